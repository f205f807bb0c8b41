/** What a tracker knows of each connection, shared by its drain run. Types only. */
import type * as http from 'node:http';
import type { Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export type ConnKind = 'http1' | 'h2' | 'raw' | 'upgraded';

export interface Conn {
  kind: ConnKind;
  /** The socket requests arrive on (a TLSSocket for https), or the session for HTTP/2. */
  handle: Duplex | Http2Session;
  inflight: number;
  /** HTTP/1 responses followed and not yet closed, with when they were first followed. */
  responses?: Map<http.ServerResponse, number>;
  /** When the connection was accepted, or first seen. */
  openedAt: number;
  /** Handlers' drain signal for this connection (made when one asks: drainSignalOf()). */
  drainController?: AbortController;
  /** The drain has told this connection to go: its handlers' signal has fired. */
  drainSignalled?: boolean;
  idleSince: number;
  idleTimer: NodeJS.Timeout | undefined;
  /** An upgraded connection whose request asked for `Upgrade: websocket`. */
  websocket?: boolean;
  /** During a drain: its responses now say `Connection: close` (see DrainOptions.paceMs). */
  released?: boolean;
  /** HTTP/2: when its last stream arrived (closeSession's quiet period). */
  lastStreamAt?: number;
  /** HTTP/2: how many of its streams have closed (closeSession's catch-up check). */
  streamsEnded?: number;
}

/** What a drain run reads and asks of the tracker whose connections it drains. */
export interface Followed {
  /** Every accepted TCP/Unix socket: what the deadline destroys and what "all closed" means. */
  readonly sockets: ReadonlySet<Socket>;
  readonly conns: ReadonlyMap<Duplex | Http2Session, Conn>;
  /** Node lacks a field the fast path reads: requests are followed through the public API. */
  readonly publicApiOnly: boolean;
  /** Follows the response `conn` writes; true when it is busy. See ConnectionTracker. */
  followInFlight(conn: Conn): boolean;
  /** Closes only the listening socket, never open connections. */
  stopAccepting(): void;
}

export const now = (): number => performance.now();
