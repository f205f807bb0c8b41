import type { Verdict } from '../handover/types.js';

/**
 * The old generation's wait for its successor's probation verdict. A shutdown ends the wait as
 * passed (no rollback then, the drain goes on). Nothing else may keep the process alive once its
 * connections are gone, and a pending promise alone would let node exit: a ref'd timer holds it
 * until the verdict.
 */
export class ProbationWait {
  private readonly ended = new AbortController();

  wait(verdict: Promise<Verdict>): Promise<Verdict> {
    const ends = this.ended.signal;
    const alive = setInterval(() => undefined, 60_000);
    return new Promise<Verdict>((resolve) => {
      if (ends.aborted) resolve({ passed: true });
      ends.addEventListener('abort', () => resolve({ passed: true }), { once: true });
      void verdict.then(resolve);
    }).finally(() => clearInterval(alive));
  }

  /** A shutdown (for good: no rollback follows): the wait under way and any later one pass. */
  end(): void {
    this.ended.abort();
  }
}
