import { nextDirectory } from '../command.js';
import type { RestartOutcome } from '../handover/outcome.js';
import type { HeldListener } from '../sockets/held.js';
import { describeHandedOver } from '../sockets/spec.js';
import type { SupervisorStatus } from './control-protocol.js';
import type { SupervisorState } from './state.js';
import type { WorkerSet } from './workers.js';

/** What the supervisor has done so far, for `status`. */
export class SupervisorRecord {
  readonly startedAt = Date.now();
  /** Reloads whose new set served through its probation (see supervisorStatus()). */
  reloads = 0;
  crashes = 0;
  lastReload: RestartOutcome | undefined;
}

/** `graceful-restart status`: the supervisor's state, its workers and listeners. */
export function supervisorStatus(
  state: SupervisorState,
  workers: WorkerSet,
  record: SupervisorRecord,
  where: { held: HeldListener[]; cwd: string | undefined; command: string },
  consecutiveFailures: number,
): SupervisorStatus {
  return {
    supervisorPid: process.pid,
    uptimeMs: Date.now() - record.startedAt,
    state,
    workers: workers.all.map((w) => ({
      pid: w.pid,
      slot: w.slot,
      generation: w.generation,
      role: w.role,
      since: new Date(w.readyAt).toISOString(),
      cwd: w.cwd,
      release: w.release,
      connections: w.load?.connections ?? null,
      requests: w.load?.requests ?? null,
    })),
    draining: workers.all.flatMap((w) => (w.drain ? [w.drain] : [])),
    servingPid: workers.serving[0]?.pid ?? null,
    servingPids: workers.serving.map((w) => w.pid),
    workerCount: workers.count,
    cwd: nextDirectory(where.cwd),
    command: where.command,
    listeners: where.held.map((h) => ({
      name: h.entry.name,
      address: describeHandedOver(h.entry),
    })),
    // A reload counts from when its set serves; one rolled back does not.
    reloads: record.reloads + (state === 'probation' ? 1 : 0),
    crashes: record.crashes,
    consecutiveFailures,
    lastReload: record.lastReload ?? null,
  };
}
