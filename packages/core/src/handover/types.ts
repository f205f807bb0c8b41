/** What a handover gives the generation it replaces. Types only. */
import type { GracefulRestartError } from '../errors.js';
import type { DrainProgress, DrainReport } from './messages.js';
import type { RestartResult } from './outcome.js';

/** How a probation ended: the new generation lived through it, or died (then: roll back). */
export type Verdict = { passed: true } | { passed: false; error: GracefulRestartError };

/** A next generation that serves, and (with a probation) when this one may let go. */
export interface Handover {
  result: RestartResult;
  probation?: Promise<Verdict> | undefined;
  /** What this generation tells the one that took over (directly, or through the supervisor). */
  successor?: SuccessorMessenger | undefined;
  /**
   * Direct mode: hears the next generations ask to cut drains over drain.maxOldGenerations (the
   * pids: this one's, or ones before it).
   */
  onCutRequest?: ((listener: (pids: number[]) => void) => void) | undefined;
}

/** The replaced generation's last words to the one that replaced it. */
export interface SuccessorMessenger {
  /** Its onHandOff() data (undefined: none). Sent once, right after the handover. */
  handOff(data: unknown): void;
  /** Its drain report, when the drain is done. */
  reportDrained(report: DrainReport): void;
  /** Its drain (and the drains it knows of before it) as they go, once a second. */
  reportDraining(generations: DrainProgress[]): void;
}
