/**
 * The JSON-line messages on a worker's fd 3 after the ready byte (supervisor and worker), also
 * used between a direct-mode generation and its successor. Types only.
 */
import type { RestartResult, WireError } from './outcome.js';

export type WorkerMessage =
  /** Start the next worker (this worker's own SIGHUP or admin route). */
  | { type: 'restart' }
  /**
   * This generation drains on purpose (a handover or a shutdown), also sent to a direct-mode
   * predecessor: its exit that follows is no crash, and no reason to roll back.
   */
  | { type: 'leaving' }
  /**
   * This worker crashed (an uncaught exception): it has stopped accepting and exits once what is
   * in flight is answered; start its replacement now.
   */
  | { type: 'crashed' }
  /** What this worker carries, sent every second while it changes: `status` shows it. */
  | ({ type: 'load' } & WorkerLoad)
  /** A replaced worker's onHandOff() data, for the worker that took its slot. */
  | { type: 'hand-off'; data?: unknown }
  /** A replaced worker drained: for the worker that took its slot. */
  | { type: 'drained'; report: DrainReport }
  /**
   * To whoever started this generation: cut the drains of these pids now (over
   * drain.maxOldGenerations). A direct-mode generation passes a pid not its own on to the one
   * that started it; the supervisor tells each worker listed.
   */
  | { type: 'cut-drains'; pids: number[] }
  /** Supervised: this worker's drain as it goes, once a second (`status` lists it). */
  | ({ type: 'draining' } & DrainProgress);

/** A generation's drain as it goes: what `status` and the admin status list while it lingers. */
export interface DrainProgress {
  pid: number;
  /** When the drain began (ISO 8601). */
  since: string;
  /** Connections still open, and requests in flight on them. */
  connections: number;
  requestsInFlight: number;
  /** When the deadline cuts what is left (ISO 8601). */
  deadline: string;
}

/** What a drain did: the `drained` event's payload, also handed to the next generation. */
export interface DrainReport {
  /** Milliseconds from drain start until the last connection closed (or the deadline). */
  durationMs: number;
  /** Open sockets (and HTTP/2 sessions) when the drain started. */
  socketsAtStart: number;
  /** Requests (HTTP/1 responses, HTTP/2 streams) that finished after the drain started. */
  requestsCompleted: number;
  /** Sockets this drain closed because they stayed idle past the idle grace. */
  socketsClosedIdle: number;
  /** Sockets destroyed at the deadline. */
  socketsForced: number;
  /** Requests still in flight when the deadline cut their sockets. */
  requestsCutAtDeadline: number;
  /** True when the deadline ended the drain. */
  deadlineReached: boolean;
  /** What the deadline cut, at most CUT_LISTED of it (`cutNotListed` counts the rest). */
  cut: CutWork[];
  cutNotListed: number;
}

/**
 * One piece of work the deadline cut. `request`: an HTTP/1 response not yet begun; `stream`:
 * one begun and not ended (SSE, long poll, a download); `upgraded`: a WebSocket or other upgraded
 * connection; `raw`: a net server's connection; `h2`: an HTTP/2 session with `streams` open.
 * `path` has no query string (it may carry secrets). `ageMs`: how long it had run, at least (a
 * request already running when the drain began is counted from the drain's start).
 */
export interface CutWork {
  kind: 'request' | 'stream' | 'upgraded' | 'raw' | 'h2';
  method?: string;
  path?: string;
  streams?: number;
  ageMs: number;
}

/** How many cut pieces of work a drain report lists. */
export const CUT_LISTED = 20;

/** A worker's open connections and the requests it received, over all its listeners. */
export interface WorkerLoad {
  connections: number;
  requests: number;
}

export type SupervisorMessage =
  /**
   * The next worker serves: drain now (whether this worker asked or the supervisor decided).
   * With `probationMs` > 0, keep what it takes to serve again until `probation-passed` or
   * `rollback`.
   */
  | {
      type: 'handover';
      result: RestartResult;
      probationMs?: number;
      /** The workers of its slot still draining (drain.maxOldGenerations counts them). */
      drainingBefore?: DrainProgress[];
    }
  /** Over drain.maxOldGenerations: cut this worker's drain now. */
  | { type: 'cut-drain' }
  /** A reload starts: take what a rollback would need, before the handover comes. */
  | { type: 'prepare' }
  /** The next worker survived its probation: this one may let go and exit. */
  | { type: 'probation-passed' }
  /** The next worker died on probation: this one serves again. */
  | ({ type: 'rollback' } & WireError)
  /** The restart this worker asked for (or the supervisor's own reload) failed; it keeps serving. */
  | ({ type: 'restart-failed' } & WireError)
  /** The worker this one replaced has exited. */
  | { type: 'predecessor-exited' }
  /**
   * Direct mode: the previous generation's drain as it goes, once a second, with the drains of
   * the generations before it that it knows of (the admin status lists them).
   */
  | { type: 'predecessors-draining'; generations: DrainProgress[] }
  /**
   * This worker serves after the restart described (also sent by a direct-mode predecessor):
   * its `lastRestart`.
   */
  | { type: 'took-over'; result: RestartResult }
  /**
   * What the previous generation handed off (its onHandOff() data, absent when it had none),
   * sent once, right after `took-over`.
   */
  | { type: 'handed-off'; data?: unknown }
  /** The previous generation finished its drain (the last message from it). */
  | { type: 'predecessor-drained'; report: DrainReport }
  /**
   * Drain and exit (the supervisor stops), after serving on as a lame duck for up to
   * `lameDuckMs` (the supervisor's setting). Sent instead of a signal, so that a stop signal that
   * reached the whole process group (systemd's KillMode=control-group, Ctrl-C in a terminal)
   * and this message count as one stop, not as a second signal that forces the exit.
   */
  | { type: 'shutdown'; lameDuckMs?: number };
