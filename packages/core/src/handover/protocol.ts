/**
 * Everything that passes between processes, in one place: the manifest a generation hands to the
 * next (in an environment variable), the fd layout of a spawned generation, the JSON-line
 * messages between a supervisor and its workers and on the control socket, and the wire form of
 * restart outcomes and errors. Pure: no I/O here.
 */
import { type ErrorCode, ErrorCodes, GracefulRestartError } from '../errors.js';
import type { SupervisorState, WorkerRole } from '../supervisor/state.js';

// ── The fd layout of a spawned generation ──────────────────────────────────────────────────

/** The ready pipe is the successor's fd 3: it writes one byte there once it serves. */
export const READY_FD = 3;
export const READY_BYTE = 'R';
/** The successor's fd for the i-th handed-over listener: they follow the ready pipe. */
export function listenerFd(index: number): number {
  return READY_FD + 1 + index;
}

// ── Restart outcomes ───────────────────────────────────────────────────────────────────────

export interface RestartResult {
  oldPid: number;
  newPid: number;
  durationMs: number;
  /** The directory the new generation started in (a release's `current`, followed at start). */
  cwd: string;
  /** Its command line, as it reads: `node /srv/app/current/server.mjs`. */
  command: string;
  /** With `graceful-restart run --workers N` (N > 1): every worker replaced, and every new one. */
  oldPids?: number[];
  newPids?: number[];
}

/** An error as it crosses a process boundary (and as status answers show it). */
export interface WireError {
  code: ErrorCode;
  message: string;
  exitCode?: number | null;
  signal?: NodeJS.Signals | null;
}

/** The last restart's outcome: one shape for a generation, the supervisor and `status`. */
export type RestartOutcome = { ok: true; result: RestartResult } | { ok: false; error: WireError };

export function errorToWire(error: GracefulRestartError): WireError {
  return {
    code: error.code,
    message: error.message,
    ...(error.exitCode === undefined ? {} : { exitCode: error.exitCode }),
    ...(error.signal === undefined ? {} : { signal: error.signal }),
  };
}

/** A typed error again; a code this version does not know (a newer peer's) becomes INTERNAL. */
export function errorFromWire(wire: WireError): GracefulRestartError {
  const known = (Object.values(ErrorCodes) as string[]).includes(wire.code);
  return new GracefulRestartError(known ? wire.code : ErrorCodes.INTERNAL, String(wire.message), {
    ...(wire.exitCode === undefined ? {} : { exitCode: wire.exitCode }),
    ...(wire.signal === undefined ? {} : { signal: wire.signal }),
  });
}

// ── The manifest ───────────────────────────────────────────────────────────────────────────

/** One listener as handed from a generation to the next. */
export interface ManifestListener {
  name: string;
  kind: 'tcp' | 'unix';
  fd: number;
  host?: string;
  port?: number;
  path?: string;
  /** Inode of the socket file, so a final shutdown removes only the file it owns. */
  ino?: number;
  /**
   * First taken from systemd socket activation: the socket unit owns its address, so later
   * generations adopt it by name whatever address their own configuration names.
   */
  activated?: boolean;
  /** The listen(2) backlog it listens with: the next generation listens with it again. */
  backlog?: number;
}

/** A listener as its holder describes it before the receiving fd is known. */
export type HandedOverListener = Omit<ManifestListener, 'fd'>;

export interface Manifest {
  version: 1;
  /** The generation that wrote the manifest: a process whose parent is another ignores it. */
  parentPid: number;
  /** The fd the successor writes its ready byte to. */
  readyFd: number;
  listeners: ManifestListener[];
  /**
   * Written by the stable-PID supervisor (`graceful-restart run`): it owns the listeners, the
   * worker adopts them by name and asks it for restarts over `readyFd`.
   */
  supervised?: boolean;
  /** Under `graceful-restart run --workers N` (N > 1): how many workers accept on the listeners. */
  workers?: number;
}

export const MANIFEST_ENV = 'GRACEFUL_RESTART_MANIFEST';

function manifestError(why: string): GracefulRestartError {
  return new GracefulRestartError(
    ErrorCodes.MANIFEST_INVALID,
    `The handover manifest in ${MANIFEST_ENV} is invalid: ${why}. It is written by the previous ` +
      `generation; unset ${MANIFEST_ENV} to start fresh.`,
  );
}

export function encodeManifest(manifest: Manifest): string {
  return JSON.stringify(manifest);
}

/** Parses and checks a manifest; throws MANIFEST_INVALID naming what is wrong. */
export function decodeManifest(text: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw manifestError(`not JSON (${(cause as Error).message})`);
  }
  if (typeof value !== 'object' || value === null) throw manifestError('not an object');
  const m = value as Record<string, unknown>;
  if (m['version'] !== 1) throw manifestError(`unknown version ${JSON.stringify(m['version'])}`);
  const isFd = (fd: unknown): fd is number => Number.isInteger(fd) && (fd as number) >= 3;
  const isBacklog = (n: unknown): n is number => Number.isInteger(n) && (n as number) > 0;
  if (!Number.isInteger(m['parentPid'])) throw manifestError('parentPid is not an integer');
  if (!isFd(m['readyFd'])) throw manifestError('readyFd is not an fd >= 3');
  if (!Array.isArray(m['listeners'])) throw manifestError('listeners is not an array');
  const names = new Set<string>();
  const listeners = (m['listeners'] as unknown[]).map((entry, i): ManifestListener => {
    if (typeof entry !== 'object' || entry === null)
      throw manifestError(`listener ${i} is not an object`);
    const l = entry as Record<string, unknown>;
    if (typeof l['name'] !== 'string') throw manifestError(`listener ${i} has no name`);
    if (names.has(l['name'])) throw manifestError(`listener "${l['name']}" appears twice`);
    names.add(l['name']);
    if (!isFd(l['fd'])) throw manifestError(`listener "${l['name']}" has no fd >= 3`);
    if (l['kind'] === 'tcp') {
      if (typeof l['host'] !== 'string' || !Number.isInteger(l['port'])) {
        throw manifestError(`tcp listener "${l['name']}" needs host and port`);
      }
      const out: ManifestListener = {
        name: l['name'],
        kind: 'tcp',
        fd: l['fd'],
        host: l['host'],
        port: l['port'] as number,
      };
      if (l['activated'] === true) out.activated = true;
      if (isBacklog(l['backlog'])) out.backlog = l['backlog'];
      return out;
    }
    if (l['kind'] === 'unix') {
      if (typeof l['path'] !== 'string')
        throw manifestError(`unix listener "${l['name']}" needs a path`);
      const out: ManifestListener = { name: l['name'], kind: 'unix', fd: l['fd'], path: l['path'] };
      if (Number.isInteger(l['ino'])) out.ino = l['ino'] as number;
      if (l['activated'] === true) out.activated = true;
      if (isBacklog(l['backlog'])) out.backlog = l['backlog'];
      return out;
    }
    throw manifestError(`listener "${l['name']}" has unknown kind ${JSON.stringify(l['kind'])}`);
  });
  return {
    version: 1,
    parentPid: m['parentPid'] as number,
    readyFd: m['readyFd'] as number,
    listeners,
    ...(m['supervised'] === true ? { supervised: true } : {}),
    ...(Number.isInteger(m['workers']) && (m['workers'] as number) > 1
      ? { workers: m['workers'] as number }
      : {}),
  };
}

// ── Supervisor <-> worker, on the worker's fd 3 after the ready byte ───────────────────────

export type WorkerMessage =
  /** Start the next worker (this worker's own SIGHUP or admin route). */
  | { type: 'restart' }
  /**
   * This generation drains on purpose (a handover or a shutdown), also sent to a direct-mode
   * predecessor: its exit that follows is no crash, and no reason to roll back.
   */
  | { type: 'leaving' }
  /** What this worker carries, sent every second while it changes: `status` shows it. */
  | ({ type: 'load' } & WorkerLoad)
  /** A replaced worker's onHandOff() data, for the worker that took its slot. */
  | { type: 'hand-off'; data?: unknown }
  /** A replaced worker drained: for the worker that took its slot. */
  | { type: 'drained'; report: DrainReport };

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
}

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
  | { type: 'handover'; result: RestartResult; probationMs?: number }
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
   * Drain and exit (the supervisor stops). Sent instead of a signal, so that a stop signal that
   * reached the whole process group (systemd's KillMode=control-group, Ctrl-C in a terminal)
   * and this message count as one stop, not as a second signal that forces the exit.
   */
  | { type: 'shutdown' };

// ── The control socket (`graceful-restart reload | status | stop`) ─────────────────────────

export const ControlCommands = ['reload', 'status', 'stop'] as const;
export type ControlCommand = (typeof ControlCommands)[number];
export type ControlRequest = { type: ControlCommand };

export interface SupervisorStatus {
  supervisorPid: number;
  uptimeMs: number;
  state: SupervisorState;
  /** The first serving worker (slot 0 unless it is being replaced). */
  servingPid: number | null;
  /** Every serving worker, by slot. */
  servingPids: number[];
  /** How many workers serve side by side (`--workers`). */
  workerCount: number;
  /** Where the next worker starts, and what it runs. */
  cwd: string;
  command: string;
  /**
   * Every live worker. `slot`: its place in the set; `generation`: the reload that started it
   * (0: the first start); `since`: when it said ready; `cwd`: the directory it started in.
   */
  workers: {
    pid: number;
    slot: number;
    generation: number;
    role: WorkerRole;
    since: string;
    cwd: string;
    /** As the worker last reported it (every second while it changes); null before its first. */
    connections: number | null;
    requests: number | null;
  }[];
  listeners: { name: string; address: string }[];
  reloads: number;
  crashes: number;
  consecutiveFailures: number;
  lastReload: RestartOutcome | null;
}

export type ControlReply =
  | { ok: true; result?: RestartResult; status?: SupervisorStatus; stopping?: true }
  | ({ ok: false } & WireError);
