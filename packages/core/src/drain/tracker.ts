import type * as http from 'node:http';
import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import { Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import type { DrainReport, WorkerLoad } from '../handover/messages.js';
import { type Conn, type ConnKind, type Followed, now } from './connections.js';
import {
  detectProtocol,
  effectiveHint,
  hasNodeFields,
  type NodeResponse,
  responseInFlight,
} from './node-http.js';
import type { DrainOptions, ServerProtocol, TrackerOptions } from './options.js';
import { DrainRun } from './run.js';

/**
 * Follows every connection of one server from the moment it is created, so that a drain knows
 * which sockets are busy, which are idle and since when. Attach it before the server listens.
 */
export class ConnectionTracker implements Followed {
  readonly protocol: ServerProtocol;
  readonly sockets = new Set<Socket>();
  /** Request-level state, keyed by the socket requests come on (or the HTTP/2 session). */
  readonly conns = new Map<Duplex | Http2Session, Conn>();
  /** The drain under way, or over (until a rollback resumes serving). */
  private run: DrainRun | undefined;
  /** Seconds advertised in `Keep-Alive: timeout=N`, or undefined to leave node's header. */
  private readonly keepAliveHint: number | undefined;
  publicApiOnly = false;
  /** Requests received since the server started (HTTP/1 and HTTP/2). */
  private requests = 0;
  /** Connections a raw net server accepted: its arrivals. */
  private rawConnections = 0;
  /** A lame duck: every response closes its connection while the listener still accepts. */
  private closingResponses = false;

  constructor(
    readonly server: NetServer,
    protocol: ServerProtocol = detectProtocol(server),
    options: TrackerOptions = {},
  ) {
    this.protocol = protocol;
    this.keepAliveHint = effectiveHint(server, options.keepAliveHintSeconds);
    server.on('connection', this.onSocket);
    if (protocol === 'net') {
      server.on('connection', (socket: Socket) => {
        this.rawConnections++;
        this.addConn(socket, 'raw');
      });
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
      this.run?.checkDone();
    });
  };

  private addConn(handle: Duplex | Http2Session, kind: ConnKind): Conn {
    let conn = this.conns.get(handle);
    if (conn) return conn;
    conn = { kind, handle, inflight: 0, idleSince: now(), openedAt: now(), idleTimer: undefined };
    this.conns.set(handle, conn);
    handle.once('close', () => {
      if (conn.idleTimer) clearTimeout(conn.idleTimer);
      this.conns.delete(handle);
      this.run?.checkDone();
    });
    // One accepted while the listener is still open waits with the others (see drain()).
    if (this.run && !this.run.accepting) this.run.connDuringDrain(conn);
    return conn;
  }

  /**
   * Before a drain a request costs a map lookup and two field writes (its count, the hint),
   * nothing that allocates:
   * - whether a socket is busy is read at drain start from node's `socket._httpMessage`, the
   *   response it is writing (what `server.closeIdleConnections()` reads); requests are followed
   *   one by one only during a drain;
   * - the hint goes through `res._keepAliveTimeout`, from which node writes its own Keep-Alive
   *   header. `setHeader()` would cost more, and fastify's `writeHead(code, headers)` would then
   *   merge every header through it.
   * Both fields are checked on each new connection; should a node version lack one, every
   * request is followed and the hint set as a header (`publicApiOnly`).
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
    if ((this.run && conn.released) || this.closingResponses) res.shouldKeepAlive = false;
    else if (this.keepAliveHint !== undefined) this.advertiseHint(res, this.keepAliveHint);
  };

  /** Open connections now, and requests received so far. */
  get load(): WorkerLoad {
    return { connections: this.sockets.size, requests: this.requests };
  }

  /** What a drain has left: open connections, and the requests in flight on them. */
  get left(): { connections: number; requestsInFlight: number } {
    let requestsInFlight = 0;
    for (const conn of this.conns.values()) requestsInFlight += conn.inflight;
    return { connections: this.sockets.size, requestsInFlight };
  }

  /** Requests (raw connections, for a net server) received so far: what a lame duck watches. */
  get arrivals(): number {
    return this.requests + this.rawConnections;
  }

  /**
   * A lame duck begins: the listener still accepts, and every HTTP/1 response from now on (the
   * ones being written too) closes its connection, so that a client's next request opens a new
   * connection, which the balancer sends elsewhere once it has moved off.
   */
  beginLameDuck(): void {
    this.closingResponses = true;
    for (const conn of this.conns.values()) {
      if (conn.kind !== 'http1') continue;
      conn.released = true;
      this.followInFlight(conn);
    }
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
    conn.responses ??= new Map();
    const responses = conn.responses;
    responses.set(res, now());
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
  followInFlight(conn: Conn): boolean {
    if (conn.kind !== 'http1') return conn.inflight > 0;
    const res = responseInFlight(conn.handle as Socket);
    if (res && !conn.responses?.has(res)) this.followResponse(conn, res);
    if (!conn.released) return conn.inflight > 0;
    for (const followed of conn.responses?.keys() ?? []) {
      if (followed.headersSent) continue;
      // It says `Connection: close`; node then writes no Keep-Alive header of its own.
      followed.shouldKeepAlive = false;
      if (this.publicApiOnly) followed.removeHeader('Keep-Alive');
    }
    return conn.inflight > 0;
  }

  private readonly onUpgrade = (req: http.IncomingMessage, socket: Duplex) => {
    const conn = this.conns.get(socket) ?? this.addConn(socket, 'upgraded');
    conn.kind = 'upgraded';
    conn.websocket = req.headers.upgrade?.toLowerCase() === 'websocket';
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
    this.run?.requestEnded(conn);
  }

  /**
   * The signal that tells handlers on the connection `handle` (a request's socket, or its
   * HTTP/2 session) to finish: it fires when the drain releases that connection, paced with the
   * others (DrainRun.release()), so long-lived streams end spread over the window, not at once.
   * Undefined for a connection this tracker does not follow.
   */
  drainSignalOf(handle: Duplex | Http2Session): AbortSignal | undefined {
    const conn = this.conns.get(handle);
    if (!conn) return undefined;
    if (conn.drainSignalled) return AbortSignal.abort();
    conn.drainController ??= new AbortController();
    return conn.drainController.signal;
  }

  /** The drain under way ends at the latest `ms` from now (see DrainRun.shortenDeadline()). */
  shortenDrain(ms: number): void {
    this.run?.shortenDeadline(ms);
  }

  /** Stops accepting: closes only the listening socket, never open connections. */
  stopAccepting(): void {
    if (!this.server.listening) return;
    // net.Server's close, not http.Server's: the latter also closes idle keep-alive sockets at
    // once, which races requests already on the wire (they would be reset).
    NetServer.prototype.close.call(this.server);
  }

  /**
   * Drains this server (see DrainRun). With `closeListenerAfter` the listening socket closes once
   * that settles, and the drain is not over before: other fds of the socket must be gone first,
   * so that its close is the last (a client connecting after is refused, not queued on a socket
   * still listening and reset when it goes). Meanwhile the drain's clock runs and its requests
   * count, but no connection is told to close yet: its client would reconnect while the port
   * still listens.
   */
  drain(options: DrainOptions, closeListenerAfter?: Promise<unknown>): Promise<DrainReport> {
    if (this.run) {
      return Promise.reject(
        new GracefulRestartError(ErrorCodes.INVALID_STATE, 'This server is already draining.'),
      );
    }
    return new Promise<DrainReport>((resolve) => {
      const run = new DrainRun(this, options, resolve);
      this.run = run;
      const closeListener = () => {
        // A rollback (resume()) may have ended this drain meanwhile: the server serves again.
        if (this.run === run) run.closeListener();
      };
      if (closeListenerAfter) void closeListenerAfter.then(closeListener, closeListener);
      else closeListener();
    });
  }

  /**
   * After a rollback, once the server listens again: it serves as before a drain. A drain still
   * running ends now (its report as it stands); sockets it already closed stay closed.
   */
  resume(): void {
    this.run?.finish();
    this.run = undefined;
    for (const conn of this.conns.values()) {
      conn.released = false;
      conn.drainSignalled = false;
      delete conn.drainController;
    }
  }
}
