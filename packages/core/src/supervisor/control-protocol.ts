/** What travels on the control socket (`graceful-restart reload | status | stop`). Types only. */
import type { DrainProgress } from '../handover/messages.js';
import type { RestartOutcome, RestartResult, WireError } from '../handover/outcome.js';
import type { SupervisorState, WorkerRole } from './state.js';

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
    /** `cwd` with its symlinks followed: the release the worker runs. */
    release: string;
    /** As the worker last reported it (every second while it changes); null before its first. */
    connections: number | null;
    requests: number | null;
  }[];
  /**
   * The workers still draining with connections left (pid, since when, connections and
   * requests left, the deadline), as each reported them in the last second.
   */
  draining: DrainProgress[];
  listeners: { name: string; address: string }[];
  reloads: number;
  crashes: number;
  consecutiveFailures: number;
  lastReload: RestartOutcome | null;
}

export type ControlReply =
  | { ok: true; result?: RestartResult; status?: SupervisorStatus; stopping?: true }
  | ({ ok: false } & WireError);
