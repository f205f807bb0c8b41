import type { Http2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import { CUT_LISTED, type CutWork, type DrainReport } from '../handover/messages.js';
import { type Conn, type Followed, now } from './connections.js';
import { closeSession, GOAWAY_FINAL_LATEST_MS } from './http2-goaway.js';
import { IdleCloser } from './idle-closer.js';
import type { DrainOptions, OpaqueConnectionKind } from './options.js';

/** How long the paced release of one HTTP/1 connection takes in a drain's window. */
const PACE_PER_CONNECTION_MS = 20;

/**
 * One drain of one server's connections: stop accepting, let in-flight requests finish with
 * `Connection: close`, close idle sockets after the grace, destroy what is left at the deadline.
 */
export class DrainRun {
  private finished = false;
  readonly report: DrainReport;
  /** Release the HTTP/1 connections, and end the upgraded ones, a few per tick. */
  private readonly pacers: NodeJS.Timeout[] = [];
  /** The listening socket is still open (see ConnectionTracker.drain()'s `closeListenerAfter`). */
  accepting = true;
  private readonly startedAt = now();
  private deadline: NodeJS.Timeout;
  /** When the deadline cuts what is left (performance.now() time). */
  private deadlineAt: number;
  private readonly idleCloser = new IdleCloser(() => this.deadlineAt);

  constructor(
    private readonly followed: Followed,
    private readonly options: DrainOptions,
    private readonly done: (report: DrainReport) => void,
  ) {
    this.report = {
      durationMs: 0,
      socketsAtStart: followed.sockets.size,
      requestsCompleted: 0,
      socketsClosedIdle: 0,
      socketsForced: 0,
      requestsCutAtDeadline: 0,
      deadlineReached: false,
      cut: [],
      cutNotListed: 0,
    };
    this.deadlineAt = this.startedAt + options.deadlineMs;
    this.deadline = setTimeout(() => this.forceClose(), options.deadlineMs);
    this.deadline.unref();
    for (const conn of followed.conns.values()) {
      // Unfollowed until now, an idle socket's grace starts with the drain: a client that
      // honours the hint has stopped reusing it before the grace ends either way.
      const busy = followed.followInFlight(conn);
      if (!busy && conn.kind === 'http1' && !followed.publicApiOnly) {
        conn.idleSince = this.startedAt;
      }
    }
  }

  /** The listener closes now: connections are told to close, paced, and idle ones closed. */
  closeListener(): void {
    this.accepting = false;
    this.followed.stopAccepting();
    const conns = [...this.followed.conns.values()];
    const { paceMs = 0, upgradedPaceMs = 0 } = this.options;
    this.pace(
      conns.filter((conn) => conn.kind === 'http1'),
      paceMs,
      (conn) => this.release(conn),
    );
    const longLived = (conn: Conn) => conn.kind === 'upgraded' || conn.kind === 'raw';
    this.pace(conns.filter(longLived), upgradedPaceMs, (conn) => {
      signalDrain(conn);
      this.endLongLived(conn);
    });
    for (const conn of conns) {
      if (conn.kind === 'h2') this.connDuringDrain(conn);
      else if (conn.kind === 'http1') this.scheduleIdleClose(conn);
    }
    this.checkDone();
  }

  /** A connection accepted, or first seen, once the listener has closed (and HTTP/2 sessions then). */
  connDuringDrain(conn: Conn): void {
    if (conn.kind !== 'http1') signalDrain(conn);
    if (conn.kind === 'h2') {
      // GOAWAY: the client opens no new streams here; open streams finish.
      closeSession(conn, Math.min(GOAWAY_FINAL_LATEST_MS, this.options.deadlineMs / 4));
    } else if (conn.kind === 'http1') {
      // A connection whose first request comes during the drain is released at once.
      this.release(conn);
    } else if (conn.kind === 'upgraded') {
      // First seen now, in the 'upgrade' event: the app's own listener, after this one, has
      // yet to answer it (101) and take it over. End it once it has.
      setImmediate(() => this.endLongLived(conn));
    } else this.endLongLived(conn);
    this.scheduleIdleClose(conn);
  }

  /** An upgraded or raw connection: ended politely by the app's hook, or with close 1001. */
  private endLongLived(conn: Conn): void {
    if (this.finished || !this.followed.conns.has(conn.handle)) return;
    const close = this.options.closeConnection ?? (conn.websocket ? goingAway : undefined);
    close?.(conn.handle as Duplex, conn.kind as OpaqueConnectionKind);
  }

  requestEnded(conn: Conn): void {
    this.report.requestsCompleted++;
    this.scheduleIdleClose(conn);
  }

  /** Closes `conn` once it has been idle for the grace, unless a request arrives first. */
  private scheduleIdleClose(conn: Conn): void {
    if (conn.inflight > 0 || conn.idleTimer) return;
    if (conn.kind === 'raw' || conn.kind === 'upgraded') return;
    const wait = Math.max(0, this.options.idleGraceMs - (now() - conn.idleSince));
    const timer = setTimeout(() => this.idleCloser.add(() => this.closeIdle(conn, timer)), wait);
    timer.unref();
    conn.idleTimer = timer;
  }

  /** `conn`'s grace is over and its turn has come: closed unless a request came meanwhile. */
  private closeIdle(conn: Conn, timer: NodeJS.Timeout | undefined): void {
    if (conn.idleTimer !== timer) return; // a request arrived meanwhile
    conn.idleTimer = undefined;
    // A pipelined request that was queued before the drain is busy too.
    if (!this.followed.conns.has(conn.handle) || this.followed.followInFlight(conn)) return;
    this.report.socketsClosedIdle++;
    if (conn.kind === 'h2') (conn.handle as Http2Session).close();
    else (conn.handle as Duplex).destroy();
  }

  /**
   * Applies `act` to `conns` (an HTTP/1 release, an upgraded connection's end) spread evenly
   * over a window of 20 ms a connection, at most `maxWindowMs` and half the deadline: the first
   * at once, the last at its end (DrainOptions.paceMs, upgradedPaceMs).
   */
  private pace(conns: Conn[], maxWindowMs: number, act: (conn: Conn) => void): void {
    const windowMs = Math.min(
      maxWindowMs,
      (conns.length - 1) * PACE_PER_CONNECTION_MS,
      this.options.deadlineMs / 2,
    );
    if (!(windowMs > 0)) {
      for (const conn of conns) act(conn);
      return;
    }
    const stepMs = windowMs / (conns.length - 1);
    const pacedFrom = now();
    let next = 0;
    const actDue = () => {
      const due = Math.min(conns.length, Math.floor((now() - pacedFrom) / stepMs) + 1);
      while (next < due) act(conns[next++] as Conn);
      if (next === conns.length) clearInterval(pacer);
    };
    const pacer = setInterval(actDue, Math.max(1, stepMs));
    pacer.unref();
    this.pacers.push(pacer);
    actDue();
  }

  /** From now on, `conn`'s responses close it: the one being written, else the next. */
  private release(conn: Conn): void {
    // Handlers hear it when their connection's turn comes (a lame duck released it earlier).
    signalDrain(conn);
    if (conn.released || !this.followed.conns.has(conn.handle)) return;
    conn.released = true;
    this.followed.followInFlight(conn);
  }

  /**
   * The deadline comes at the latest `ms` from now (a final shutdown during a handover's longer
   * drain, a cap on old generations with 0). Pacing keeps its window: what is left at the new
   * deadline is cut.
   */
  shortenDeadline(ms: number): void {
    if (this.finished || now() + ms >= this.deadlineAt) return;
    clearTimeout(this.deadline);
    this.deadlineAt = now() + ms;
    this.deadline = setTimeout(() => this.forceClose(), Math.max(0, ms));
    this.deadline.unref();
  }

  private forceClose(): void {
    if (this.finished) return;
    this.report.deadlineReached = true;
    const cut = [...this.followed.conns.values()].flatMap((conn) => cutWork(conn));
    this.report.cut = cut.slice(0, CUT_LISTED);
    this.report.cutNotListed = cut.length - this.report.cut.length;
    for (const conn of this.followed.conns.values()) {
      this.report.requestsCutAtDeadline += conn.inflight;
      if (conn.kind === 'h2') (conn.handle as Http2Session).destroy();
    }
    this.report.socketsForced = this.followed.sockets.size;
    for (const socket of this.followed.sockets) socket.destroy();
    // Destroyed sockets emit 'close' on a later tick; the drain is over now.
    this.finish();
  }

  /** Over once the listener is closed and every connection is gone. */
  checkDone(): void {
    const { sockets, conns } = this.followed;
    if (!this.accepting && sockets.size === 0 && conns.size === 0) this.finish();
  }

  /** Ends the drain now (also a rollback's resume()), its report as it stands. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const pacer of this.pacers) clearInterval(pacer);
    this.idleCloser.stop();
    for (const conn of this.followed.conns.values()) {
      if (conn.idleTimer) clearTimeout(conn.idleTimer);
      conn.idleTimer = undefined;
    }
    clearTimeout(this.deadline);
    this.report.durationMs = Math.round(now() - this.startedAt);
    this.done(this.report);
  }
}

/** What the deadline cuts on `conn`: its responses not yet ended, or the connection itself. */
function cutWork(conn: Conn): CutWork[] {
  const at = now();
  const age = (since: number) => Math.round(at - since);
  if (conn.kind === 'upgraded' || conn.kind === 'raw') {
    return [{ kind: conn.kind, ageMs: age(conn.openedAt) }];
  }
  if (conn.kind === 'h2') {
    return conn.inflight > 0
      ? [{ kind: 'h2', streams: conn.inflight, ageMs: age(conn.openedAt) }]
      : [];
  }
  return [...(conn.responses ?? [])]
    .filter(([res]) => !res.writableEnded)
    .map(([res, since]) => ({
      kind: res.headersSent ? 'stream' : 'request',
      method: res.req?.method ?? '',
      // No query string: it may carry secrets.
      path: (res.req?.url ?? '').split('?')[0]?.slice(0, 200) ?? '',
      ageMs: age(since),
    }));
}

/** Fires the handlers' drain signal of `conn`, once. */
function signalDrain(conn: Conn): void {
  if (conn.drainSignalled) return;
  conn.drainSignalled = true;
  conn.drainController?.abort();
}

/**
 * The default end of a WebSocket: close code 1001 (going away). Through the `ws` library's
 * WebSocket when it owns the socket (it keeps itself under a symbol named `websocket`), else
 * as a bare close frame, written between whole frames (node writes each write in order).
 */
function goingAway(socket: Duplex): void {
  const owner = Object.getOwnPropertySymbols(socket).find((key) => key.description === 'websocket');
  const ws = owner ? (socket as unknown as Record<symbol, { close?: unknown }>)[owner] : undefined;
  if (typeof ws?.close === 'function') {
    (ws.close as (code: number, reason: string) => void).call(ws, 1001, 'server restarting');
    return;
  }
  socket.end(Buffer.from([0x88, 0x02, 0x03, 0xe9]));
}
