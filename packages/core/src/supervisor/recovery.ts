import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULTS } from '../defaults.js';
import type { Logger } from '../logger.js';

/**
 * Delay before the n-th consecutive restart of a failed worker (n from 0): 100 ms doubling to
 * 10 s. A worker that served for DEFAULTS.stableAfterMs before it died starts the count afresh.
 */
export function backoffMs(n: number): number {
  return Math.min(DEFAULTS.backoffBaseMs * 2 ** n, DEFAULTS.backoffMaxMs);
}

/** What one recovery loop needs from the supervisor. */
interface RecoverySteps {
  /** True while a slot is empty and a worker should be brought up for it. */
  needed(): boolean;
  /** Starts workers for the empty slots; each takes its slot once ready. */
  fill(): Promise<void>;
  /** Consecutive failures reached the limit. */
  giveUp(failures: number): void;
}

/**
 * Brings workers up for empty slots (at start, after a crash) with backoff, one loop at a time;
 * gives up after `maxRestarts` consecutive failed attempts.
 */
export class Recovery {
  /** Consecutive failed attempts (status shows them). */
  private failed = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly maxRestarts: number,
    private readonly log: Logger,
    /** A stop cuts a backoff wait short. */
    private readonly stopped: AbortSignal,
  ) {}

  get failures(): number {
    return this.failed;
  }

  /** A worker served long enough before it died: the next failure counts from 0 again. */
  servedLong(): void {
    this.failed = 0;
  }

  /** Starts the loop unless it runs; the first attempt of a first start waits for nothing. */
  run(steps: RecoverySteps, firstStart: boolean): void {
    this.running ??= this.loop(steps, firstStart && this.failed === 0).finally(() => {
      this.running = undefined;
    });
  }

  /** Settles once no loop runs. */
  async settled(): Promise<void> {
    await this.running;
  }

  private async loop(steps: RecoverySteps, immediately: boolean): Promise<void> {
    let first = immediately;
    while (steps.needed()) {
      if (!first && this.failed >= this.maxRestarts) return steps.giveUp(this.failed);
      if (!first) {
        const delay = backoffMs(this.failed);
        this.log.warn(
          `starting a worker in ${delay} ms (attempt ${this.failed + 1} of ${this.maxRestarts})`,
        );
        // A stop cuts the wait short (it waits for this loop to end).
        await sleep(delay, undefined, { signal: this.stopped }).catch(() => undefined);
        this.failed += 1;
        // A reload may have brought workers meanwhile, or a stop come.
        if (!steps.needed()) break;
      }
      first = false;
      await steps.fill();
    }
  }
}
