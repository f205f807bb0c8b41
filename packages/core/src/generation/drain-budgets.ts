/**
 * The two drain budgets and the cap on old generations. A drain after a handover gets
 * `drain.handoverDeadlineMs` (the next generation already serves: long work may finish); a final
 * one, or a stop signal during the longer one, gets `drain.deadlineMs` (the platform's stop
 * budget). At most `drain.maxOldGenerations` generations drain at once: a restart beyond it cuts
 * the oldest, asked along the chain of generations (each knows only the one that started it).
 */
import type { DrainProgress, DrainReport } from '../handover/messages.js';
import type { Handover, SuccessorMessenger } from '../handover/types.js';
import { announceDrainProgress } from './announce.js';
import type { GenerationParts } from './parts.js';
import type { State } from './state.js';

/**
 * Drains this generation's servers, with the handover's deadline while the next generation
 * serves (state `draining`), else the final one; its progress is announced once a second.
 */
export function startDrain(
  parts: GenerationParts,
  state: State,
  successor: SuccessorMessenger | undefined,
): Promise<DrainReport> {
  const { deadlineMs, handoverDeadlineMs } = parts.options.drain;
  return parts.servers.drain((left) => announceDrainProgress(parts, successor, left), {
    deadlineMs: state === 'draining' ? handoverDeadlineMs : deadlineMs,
  });
}

/**
 * The pids to cut when one more generation drains beside `older` (those before it still
 * draining), oldest first, so that at most `cap` drain at once.
 */
export function overTheCap(older: DrainProgress[], cap: number): number[] {
  const excess = older.length + 1 - cap;
  if (excess <= 0) return [];
  return [...older]
    .sort((a, b) => Date.parse(a.since) - Date.parse(b.since))
    .slice(0, excess)
    .map((generation) => generation.pid);
}

/**
 * This generation has handed over and drains: the oldest drains over the cap are cut, and the
 * generations after this one may ask it (or, through it, one before it) to cut later.
 */
export function capOldGenerations(parts: GenerationParts, handover: Handover): void {
  handover.onCutRequest?.((pids) => cutDrains(parts, pids));
  const { maxOldGenerations } = parts.options.drain;
  const pids = overTheCap(parts.predecessor?.drainingBefore ?? [], maxOldGenerations);
  if (pids.length === 0) return;
  parts.log.logger.warn(
    `more than drain.maxOldGenerations (${maxOldGenerations}) old generations would drain: cutting the drain of pid ${pids.join(', pid ')} now`,
    { event: 'old-generations-cut', pid: process.pid, pids: pids.join(','), maxOldGenerations },
  );
  cutDrains(parts, pids);
}

/** Cuts this generation's drain when its pid is listed; passes the others on to older ones. */
export function cutDrains(
  { servers, predecessor, log }: Pick<GenerationParts, 'servers' | 'predecessor' | 'log'>,
  pids: number[],
): void {
  if (pids.includes(process.pid)) {
    log.logger.warn(
      'too many old generations drain: this drain is cut now (drain.maxOldGenerations)',
      {
        event: 'drain-cut-by-cap',
        pid: process.pid,
      },
    );
    servers.shortenDrain(0);
  }
  const older = pids.filter((pid) => pid !== process.pid);
  if (older.length > 0) predecessor?.sendCutDrains(older);
}
