import * as http from 'node:http';
import { type Http2Session, constants as http2Constants, type ServerHttp2Stream } from 'node:http2';
import * as https from 'node:https';
import { Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import type { DrainReport, WorkerLoad } from '../handover/messages.js';

export type { DrainReport };

export type ServerProtocol = 'http' | 'http2' | 'net';

/** What kind of connection a drain hands to `closeConnection`: the library cannot end these politely itself. */
export type OpaqueConnectionKind = 'upgraded' | 'raw';

export interface DrainOptions {
  /** Hard limit for the whole drain, from its start. Whatever is left is destroyed. */
  deadlineMs: number;
  /** An open socket with no request in flight is closed once it has been idle this long. */
  idleGraceMs: number;
  /**
   * Called once at drain start for every upgraded (WebSocket) and raw `net` connection, so the app
   * can end it politely (a close frame, a protocol goodbye). Without it they are left to finish on
   * their own until the deadline.
   */
  closeConnection?: ((socket: Duplex, kind: OpaqueConnectionKind) => void) | undefined;
  /**
   * The longest window over which HTTP/1 keep-alive connections are told `Connection: close`,
   * one at a time, so that their clients move to the next generation gradually instead of all
   * reconnecting at once to a process whose code is still cold. The window is 20 ms per
   * connection, up to this, and at most half the deadline. 0 tells every connection at once.
   */
  paceMs?: number | undefined;
}

/** How long the paced release of one HTTP/1 connection takes in a drain's window. */
const PACE_PER_CONNECTION_MS = 20;

export interface TrackerOptions {
  /**
   * Seconds to advertise in `Keep-Alive: timeout=N` on HTTP/1.1 responses, or undefined to leave
   * node's own header alone. See keepAliveHintFor().
   */
  keepAliveHintSeconds?: number | undefined;
}

/**
 * Clients that honour `Keep-Alive: timeout=N` (node's http.Agent, undici/fetch) stop reusing an
 * idle socket one second before N. Advertising an N that ends their reuse at least this long
 * before the idle grace means a drain never closes a socket such a client is about to reuse.
 */
const HINT_MARGIN_MS = 500;

/**
 * The `Keep-Alive: timeout` (seconds) that makes an idle grace race-free for clients honouring
 * it, or undefined when the grace is too short for any hint >= 2 s (node's client treats a hint
 * of 1 s or less as "do not reuse", which would turn keep-alive off).
 */
export function keepAliveHintFor(idleGraceMs: number): number | undefined {
  const seconds = Math.floor((idleGraceMs - HINT_MARGIN_MS) / 1000) + 1;
  return seconds >= 2 ? seconds : undefined;
}

type ConnKind = 'http1' | 'h2' | 'raw' | 'upgraded';

interface Conn {
  kind: ConnKind;
  /** The socket requests arrive on (a TLSSocket for https), or the session for HTTP/2. */
  handle: Duplex | Http2Session;
  inflight: number;
  /** HTTP/1 responses followed and not yet closed. */
  responses?: Set<http.ServerResponse>;
  idleSince: number;
  idleTimer: NodeJS.Timeout | undefined;
  /** During a drain: its responses now say `Connection: close` (see DrainOptions.paceMs). */
  released?: boolean;
  /** HTTP/2: when its last stream arrived (closeSession's quiet period). */
  lastStreamAt?: number;
  /** HTTP/2: how many of its streams have closed (closeSession's catch-up check). */
  streamsEnded?: number;
}

interface DrainRun {
  finished: boolean;
  options: DrainOptions;
  report: DrainReport;
  done: () => void;
  /** Releases the HTTP/1 connections not yet told to close, a few per tick. */
  pacer?: NodeJS.Timeout;
  /** The listening socket is still open (see drain()'s `closeListenerAfter`). */
  accepting: boolean;
}

const now = () => performance.now();

export function detectProtocol(server: NetServer): ServerProtocol {
  if (server instanceof http.Server || server instanceof https.Server) return 'http';
  const name = server.constructor.name;
  if (name === 'Http2Server' || name === 'Http2SecureServer') return 'http2';
  if (server instanceof NetServer) return 'net';
  throw new GracefulRestartError(
    ErrorCodes.SERVER_UNSUPPORTED,
    'Unsupported server: pass a node:net, node:http, node:https or node:http2 server.',
  );
}

/**
 * Follows every connection of one server from the moment it is created, so that a drain knows
 * which sockets are busy, which are idle and since when. Attach it before the server listens.
 */
export class ConnectionTracker {
  readonly protocol: ServerProtocol;
  /** Every accepted TCP/Unix socket: what the deadline destroys and what "all closed" means. */
  private readonly sockets = new Set<Socket>();
  /** Request-level state, keyed by the socket requests come on (or the HTTP/2 session). */
  private readonly conns = new Map<Duplex | Http2Session, Conn>();
  private run: DrainRun | undefined;
  /** Seconds advertised in `Keep-Alive: timeout=N`, or undefined to leave node's header. */
  private readonly keepAliveHint: number | undefined;
  /** Set when node lacks a field the fast path reads: see onRequest. */
  private publicApiOnly = false;
  /** Requests received since the server started (HTTP/1 and HTTP/2). */
  private requests = 0;

  constructor(
    readonly server: NetServer,
    protocol: ServerProtocol = detectProtocol(server),
    options: TrackerOptions = {},
  ) {
    this.protocol = protocol;
    this.keepAliveHint = effectiveHint(server, options.keepAliveHintSeconds);
    server.on('connection', this.onSocket);
    if (protocol === 'net') {
      server.on('connection', (socket: Socket) => this.addConn(socket, 'raw'));
      return;
    }
    server.prependListener('request', this.onRequest);
    if (protocol === 'http2') server.on('session', this.onSession);
    // Listening to 'upgrade' changes node's behaviour (it stops destroying upgrade requests),
    // so only follow upgrades when the app itself handles them.
    if (server.listenerCount('upgrade') > 0) server.prependListener('upgrade', this.onUpgrade);
    else server.on('newListener', this.onNewListener);
  }

  private readonly onNewListener = (event: string | symbol) => {
    if (event !== 'upgrade') return;
    this.server.off('newListener', this.onNewListener);
    this.server.prependListener('upgrade', this.onUpgrade);
  };

  private readonly onSocket = (socket: Socket) => {
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.checkDone();
    });
  };

  private addConn(handle: Duplex | Http2Session, kind: ConnKind): Conn {
    let conn = this.conns.get(handle);
    if (conn) return conn;
    conn = { kind, handle, inflight: 0, idleSince: now(), idleTimer: undefined };
    this.conns.set(handle, conn);
    handle.once('close', () => {
      if (conn.idleTimer) clearTimeout(conn.idleTimer);
      this.conns.delete(handle);
      this.checkDone();
    });
    // One accepted while the listener is still open waits with the others (see drain()).
    if (this.run && !this.run.accepting) this.onConnDuringDrain(conn);
    return conn;
  }

  /**
   * Before a drain a request costs a map lookup and one field write, nothing that allocates:
   * - whether a socket is busy is read at drain start from node's `socket._httpMessage`, the
   *   response it is writing (what `server.closeIdleConnections()` reads); requests are followed
   *   one by one only during a drain;
   * - the hint goes through `res._keepAliveTimeout`, from which node writes its own Keep-Alive
   *   header. `setHeader()` would cost more, and fastify's `writeHead(code, headers)` would then
   *   merge every header through it.
   * Both fields are checked on each new connection; should a node version lack one, every
   * request is followed and the hint set as a header.
   */
  private readonly onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    this.requests++;
    // HTTP/2 compat requests are followed through their session's streams.
    if (req.httpVersionMajor !== 1) return;
    let conn = this.conns.get(req.socket);
    if (conn === undefined) {
      conn = this.addConn(req.socket, 'http1');
      if (!hasNodeFields(req.socket, res)) this.publicApiOnly = true;
    }
    if (this.run || this.publicApiOnly) this.followResponse(conn, res);
    // During a drain every response of a released connection closes it once written: the client
    // then opens its next connection to the successor instead of racing a close.
    if (this.run && conn.released) res.shouldKeepAlive = false;
    else if (this.keepAliveHint !== undefined) this.advertiseHint(res, this.keepAliveHint);
  };

  /** Open connections now, and requests received so far. */
  get load(): WorkerLoad {
    return { connections: this.sockets.size, requests: this.requests };
  }

  private advertiseHint(res: http.ServerResponse, seconds: number): void {
    if (this.publicApiOnly) res.setHeader('Keep-Alive', `timeout=${seconds}`);
    else (res as NodeResponse)._keepAliveTimeout = seconds * 1000;
  }

  private followResponse(conn: Conn, res: http.ServerResponse): void {
    conn.inflight++;
    if (conn.idleTimer) {
      clearTimeout(conn.idleTimer);
      conn.idleTimer = undefined;
    }
    conn.responses ??= new Set();
    const responses = conn.responses;
    responses.add(res);
    res.once('close', () => {
      responses.delete(res);
      this.requestEnded(conn);
    });
  }

  /**
   * During a drain: follows the response a socket is writing (unless followed already) and, once
   * the connection is released, makes every followed response not yet written its last. True
   * when the socket is busy.
   */
  private followInFlight(conn: Conn): boolean {
    if (conn.kind !== 'http1') return conn.inflight > 0;
    const res = responseInFlight(conn.handle as Socket);
    if (res && !conn.responses?.has(res)) this.followResponse(conn, res);
    if (!conn.released) return conn.inflight > 0;
    for (const followed of conn.responses ?? []) {
      if (followed.headersSent) continue;
      // It says `Connection: close`; node then writes no Keep-Alive header of its own.
      followed.shouldKeepAlive = false;
      if (this.publicApiOnly) followed.removeHeader('Keep-Alive');
    }
    return conn.inflight > 0;
  }

  private readonly onUpgrade = (_req: http.IncomingMessage, socket: Duplex) => {
    const conn = this.conns.get(socket);
    if (conn) conn.kind = 'upgraded';
    else this.addConn(socket, 'upgraded');
  };

  private readonly onSession = (session: Http2Session) => {
    const conn = this.addConn(session, 'h2');
    session.on('stream', (stream: ServerHttp2Stream) => {
      conn.inflight++;
      conn.lastStreamAt = now();
      if (conn.idleTimer) {
        clearTimeout(conn.idleTimer);
        conn.idleTimer = undefined;
      }
      stream.once('close', () => this.requestEnded(conn));
    });
  };

  private requestEnded(conn: Conn): void {
    conn.inflight--;
    if (conn.kind === 'h2') conn.streamsEnded = (conn.streamsEnded ?? 0) + 1;
    conn.idleSince = now();
    if (!this.run) return;
    this.run.report.requestsCompleted++;
    this.scheduleIdleClose(conn);
  }

  /** Closes `conn` once it has been idle for the grace, unless a request arrives first. */
  private scheduleIdleClose(conn: Conn): void {
    if (!this.run || conn.inflight > 0 || conn.idleTimer) return;
    if (conn.kind === 'raw' || conn.kind === 'upgraded') return;
    const wait = Math.max(0, this.run.options.idleGraceMs - (now() - conn.idleSince));
    const timer = setTimeout(() => {
      // Close in the check phase, after this loop turn's poll: a request already in the socket's
      // receive buffer is read first and keeps the socket open instead of being reset.
      setImmediate(() => {
        if (conn.idleTimer !== timer) return; // a request arrived meanwhile
        conn.idleTimer = undefined;
        // A pipelined request that was queued before the drain is busy too.
        if (!this.conns.has(conn.handle) || this.followInFlight(conn)) return;
        if (this.run) this.run.report.socketsClosedIdle++;
        if (conn.kind === 'h2') (conn.handle as Http2Session).close();
        else (conn.handle as Duplex).destroy();
      });
    }, wait);
    timer.unref();
    conn.idleTimer = timer;
  }

  private onConnDuringDrain(conn: Conn): void {
    const run = this.run;
    if (!run) return;
    if (conn.kind === 'h2') {
      // GOAWAY: the client opens no new streams here; open streams finish.
      closeSession(conn, Math.min(GOAWAY_FINAL_LATEST_MS, run.options.deadlineMs / 4));
    } else if (conn.kind === 'http1') {
      // A connection whose first request comes during the drain is released at once.
      this.release(conn);
    } else if (conn.kind === 'raw' || conn.kind === 'upgraded') {
      run.options.closeConnection?.(conn.handle as Duplex, conn.kind);
    }
    this.scheduleIdleClose(conn);
  }

  /** Stops accepting: closes only the listening socket, never open connections. */
  stopAccepting(): void {
    if (!this.server.listening) return;
    // net.Server's close, not http.Server's: the latter also closes idle keep-alive sockets at
    // once, which races requests already on the wire (measured: ~200 ECONNRESET per 4 restarts).
    NetServer.prototype.close.call(this.server);
  }

  /**
   * Drains this server: stop accepting, let in-flight requests finish with `Connection: close`,
   * close idle sockets after the grace, destroy what is left at the deadline.
   * With `closeListenerAfter` the listening socket closes once that settles, and the drain is not
   * over before: other fds of the socket must be gone first, so that its close is the last (a
   * client connecting after is refused, not queued on a socket still listening and reset when it
   * goes). Meanwhile the drain's clock runs and its requests count, but no connection is told to
   * close yet: its client would reconnect while the port still listens.
   */
  drain(options: DrainOptions, closeListenerAfter?: Promise<unknown>): Promise<DrainReport> {
    if (this.run) {
      return Promise.reject(
        new GracefulRestartError(ErrorCodes.INVALID_STATE, 'This server is already draining.'),
      );
    }
    const startedAt = now();
    const report: DrainReport = {
      durationMs: 0,
      socketsAtStart: this.sockets.size,
      requestsCompleted: 0,
      socketsClosedIdle: 0,
      socketsForced: 0,
      requestsCutAtDeadline: 0,
      deadlineReached: false,
    };
    return new Promise<DrainReport>((resolve) => {
      const deadline = setTimeout(() => this.forceClose(), options.deadlineMs);
      deadline.unref();
      const run: DrainRun = {
        finished: false,
        options,
        report,
        done: () => {
          clearTimeout(deadline);
          report.durationMs = Math.round(now() - startedAt);
          resolve(report);
        },
        accepting: true,
      };
      this.run = run;
      for (const conn of this.conns.values()) {
        // Unfollowed until now, an idle socket's grace starts with the drain: a client that
        // honours the hint has stopped reusing it before the grace ends either way.
        const busy = this.followInFlight(conn);
        if (!busy && conn.kind === 'http1' && !this.publicApiOnly) conn.idleSince = startedAt;
      }
      const closeListener = () => {
        // A rollback (resume()) may have ended this drain meanwhile: the server serves again.
        if (this.run !== run) return;
        run.accepting = false;
        this.stopAccepting();
        const http1 = [...this.conns.values()].filter((conn) => conn.kind === 'http1');
        this.pace(http1, options);
        for (const conn of this.conns.values()) {
          if (conn.kind !== 'http1') this.onConnDuringDrain(conn);
          else this.scheduleIdleClose(conn);
        }
        this.checkDone();
      };
      if (closeListenerAfter) void closeListenerAfter.then(closeListener, closeListener);
      else closeListener();
    });
  }

  /**
   * Releases `conns` (tells them to close after their current or next response) spread evenly
   * over the window DrainOptions.paceMs describes: the first at once, the last at its end.
   */
  private pace(conns: Conn[], options: DrainOptions): void {
    const windowMs = Math.min(
      options.paceMs ?? 0,
      (conns.length - 1) * PACE_PER_CONNECTION_MS,
      options.deadlineMs / 2,
    );
    if (!(windowMs > 0)) {
      for (const conn of conns) this.release(conn);
      return;
    }
    const run = this.run as DrainRun;
    const stepMs = windowMs / (conns.length - 1);
    const pacedFrom = now();
    let next = 0;
    const releaseDue = () => {
      const due = Math.min(conns.length, Math.floor((now() - pacedFrom) / stepMs) + 1);
      while (next < due) this.release(conns[next++] as Conn);
      if (next === conns.length) clearInterval(run.pacer);
    };
    run.pacer = setInterval(releaseDue, Math.max(1, stepMs));
    run.pacer.unref();
    releaseDue();
  }

  /** From now on, `conn`'s responses close it: the one being written, else the next. */
  private release(conn: Conn): void {
    if (conn.released || !this.conns.has(conn.handle)) return;
    conn.released = true;
    this.followInFlight(conn);
  }

  /**
   * After a rollback, once the server listens again: it serves as before a drain. A drain still
   * running ends now (its report as it stands); sockets it already closed stay closed.
   */
  resume(): void {
    this.finish();
    this.run = undefined;
    for (const conn of this.conns.values()) conn.released = false;
  }

  private forceClose(): void {
    const run = this.run;
    if (!run || run.finished) return;
    run.report.deadlineReached = true;
    for (const conn of this.conns.values()) {
      run.report.requestsCutAtDeadline += conn.inflight;
      if (conn.kind === 'h2') (conn.handle as Http2Session).destroy();
    }
    run.report.socketsForced = this.sockets.size;
    for (const socket of this.sockets) socket.destroy();
    // Destroyed sockets emit 'close' on a later tick; the drain is over now.
    this.finish();
  }

  private checkDone(): void {
    if (this.run && !this.run.accepting && this.sockets.size === 0 && this.conns.size === 0) {
      this.finish();
    }
  }

  private finish(): void {
    const run = this.run;
    if (!run || run.finished) return;
    run.finished = true;
    clearInterval(run.pacer);
    for (const conn of this.conns.values()) {
      if (conn.idleTimer) clearTimeout(conn.idleTimer);
      conn.idleTimer = undefined;
    }
    run.done();
  }
}

/**
 * Ends an HTTP/2 session without refusing a stream the client sent before it learnt of the end,
 * in two phases as Envoy does: a first GOAWAY with the highest stream id announces it (a client
 * opens no new stream after it, and every stream already on its way is still served), then the
 * final GOAWAY (node's close()) names the last stream processed. The final one follows once no
 * new stream has come for GOAWAY_QUIET_MS (the client has read the first one: a busy client
 * reads it late), at the latest after `latestMs`. Not after a PING's answer: node delivers no
 * PING answer once a GOAWAY went out (measured on Node 20 and 24, with h2load and node's client).
 *
 * The first GOAWAY waits until the client has caught up (see announceWhenCaughtUp): a client
 * that reads a response's end and the GOAWAY in one read opens its next stream in answer to the
 * end, then drops it unsent on reading the GOAWAY and reports it refused (nghttp2 does: h2load
 * counted 20 and 220 such errors in two runs of the conformance suite without this wait).
 */
function closeSession(conn: Conn, latestMs: number): void {
  const session = conn.handle as Http2Session;
  if (session.closed || session.destroyed || announced.has(session)) return;
  announced.add(session);
  announceWhenCaughtUp(conn, Math.min(CATCH_UP_LATEST_MS, latestMs / 4), () => {
    if (session.closed || session.destroyed) return;
    try {
      session.goaway(http2Constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
    } catch {
      // destroyed meanwhile: nothing left to end
      return;
    }
    const announcedAt = now();
    const check = setInterval(() => {
      const quietSince = Math.max(announcedAt, conn.lastStreamAt ?? 0);
      const t = now();
      if (t - quietSince < GOAWAY_QUIET_MS && t - announcedAt < latestMs) return;
      clearInterval(check);
      if (!session.closed && !session.destroyed) session.close();
    }, GOAWAY_QUIET_MS / 4);
    check.unref();
    session.once('close', () => clearInterval(check));
  });
}

/**
 * Calls `announce` once the client has read everything the session sent: a PING's answer comes
 * after the client read all that preceded the PING, so when no stream ended while the PING was
 * on its way, nothing the client has yet to read ends a stream. Otherwise it pings again; after
 * `latestMs`, or when the session cannot ping, it announces anyway.
 */
function announceWhenCaughtUp(conn: Conn, latestMs: number, announce: () => void): void {
  const session = conn.handle as Http2Session;
  const startedAt = now();
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(latest);
    announce();
  };
  const latest = setTimeout(finish, latestMs);
  latest.unref();
  const ping = () => {
    const endedBefore = conn.streamsEnded ?? 0;
    let sent = false;
    try {
      sent = session.ping((error) => {
        if (done) return;
        if (error || (conn.streamsEnded ?? 0) === endedBefore || now() - startedAt >= latestMs) {
          finish();
        } else {
          ping();
        }
      });
    } catch {
      // closed or destroyed meanwhile
    }
    if (!sent) finish();
  };
  ping();
}

const MAX_STREAM_ID = 2 ** 31 - 1;
/** The first GOAWAY waits at most this long for the client to catch up; at most latestMs/4. */
const CATCH_UP_LATEST_MS = 250;
/** No new stream for this long after the first GOAWAY: the client has read it. */
const GOAWAY_QUIET_MS = 1000;
/** The final GOAWAY comes at the latest this long after the first; at most a quarter of the deadline. */
const GOAWAY_FINAL_LATEST_MS = 2000;
/** Sessions already told of the end. */
const announced = new WeakSet<Http2Session>();

type NodeSocket = Socket & { _httpMessage?: http.ServerResponse | null };
type NodeResponse = http.ServerResponse & { _keepAliveTimeout?: number };

/** The response node is writing on `socket`, or null when it is idle. */
function responseInFlight(socket: Socket): http.ServerResponse | null | undefined {
  return (socket as NodeSocket)._httpMessage;
}

/** On a connection's first request: node's fields that onRequest's fast path relies on. */
function hasNodeFields(socket: Socket, res: http.ServerResponse): boolean {
  return (
    responseInFlight(socket) === res && typeof (res as NodeResponse)._keepAliveTimeout === 'number'
  );
}

/** The hint to advertise: only when shorter than what the server itself would keep a socket. */
function effectiveHint(server: NetServer, seconds: number | undefined): number | undefined {
  if (seconds === undefined || !(server instanceof http.Server)) return undefined;
  const own = server.keepAliveTimeout > 0 ? Math.floor(server.keepAliveTimeout / 1000) : Infinity;
  return own > seconds ? seconds : undefined;
}

/** Sums the reports of several servers drained together. */
export function mergeDrainReports(reports: DrainReport[], durationMs: number): DrainReport {
  const sum = (key: keyof Omit<DrainReport, 'deadlineReached' | 'durationMs'>) =>
    reports.reduce((total, report) => total + report[key], 0);
  return {
    durationMs,
    socketsAtStart: sum('socketsAtStart'),
    requestsCompleted: sum('requestsCompleted'),
    socketsClosedIdle: sum('socketsClosedIdle'),
    socketsForced: sum('socketsForced'),
    requestsCutAtDeadline: sum('requestsCutAtDeadline'),
    deadlineReached: reports.some((report) => report.deadlineReached),
  };
}
