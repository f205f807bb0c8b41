/** How a drain is told what to do. Types only. */
import type { Duplex } from 'node:stream';

export type ServerProtocol = 'http' | 'http2' | 'net';

/** What kind of connection a drain hands to `closeConnection`: the library cannot end these politely itself. */
export type OpaqueConnectionKind = 'upgraded' | 'raw';

export interface DrainOptions {
  /** Hard limit for the whole drain, from its start. Whatever is left is destroyed. */
  deadlineMs: number;
  /** An open socket with no request in flight is closed once it has been idle this long. */
  idleGraceMs: number;
  /**
   * Called once in the drain for every upgraded (WebSocket) and raw `net` connection, paced over
   * `upgradedPaceMs`, so the app can end it politely (a close frame, a protocol goodbye).
   * Without it a WebSocket gets a close frame with code 1001 (going away), through the `ws`
   * library's WebSocket when it owns the socket; other connections are left to finish on their
   * own until the deadline.
   */
  closeConnection?: ((socket: Duplex, kind: OpaqueConnectionKind) => void) | undefined;
  /**
   * The longest window over which HTTP/1 keep-alive connections are told `Connection: close`,
   * one at a time, so that their clients move to the next generation gradually instead of all
   * reconnecting at once to a process whose code is still cold. The window is 20 ms per
   * connection, up to this, and at most half the deadline. 0 tells every connection at once.
   */
  paceMs?: number | undefined;
  /**
   * The window over which upgraded and raw connections are handed to `closeConnection` (or
   * closed with 1001), evenly, the first at once; at most half the deadline. 0: all at once.
   */
  upgradedPaceMs?: number | undefined;
}

export interface TrackerOptions {
  /**
   * Seconds to advertise in `Keep-Alive: timeout=N` on HTTP/1.1 responses, or undefined to leave
   * node's own header alone. See keepAliveHintFor().
   */
  keepAliveHintSeconds?: number | undefined;
}
