import type { Worker } from './workers.js';

/** A slot whose old worker was let go: what brings its release back if a later batch fails. */
export interface LetGoSlot {
  slot: number;
  generation: number;
  /** The physical directory the old worker ran in (its release). */
  release: string;
}

/**
 * One reload's way through the slots, `--reload-batch` K at a time: which old workers each
 * batch replaces, and what a failure in a later batch must undo. Pure bookkeeping; the
 * supervisor moves.
 *
 * After a batch passes its probation its old workers go, so that at most N+K workers run; a
 * failure later starts their release again in those slots. When the new workers run in the
 * same directory as the old ones (code changed in place) the old code is no longer on disk to
 * start: those old workers hold on, draining, until the whole reload has passed (unless there
 * is no probation, hence no rollback, at all).
 */
export class ReloadBatches {
  readonly batches: number[][];
  /** Old workers that hold on until the end, and the new workers in their slots. */
  readonly held: Worker[] = [];
  readonly heldNext: Worker[] = [];
  /** Slots whose old worker went: a failure starts that release there again. */
  readonly letGo: LetGoSlot[] = [];

  constructor(
    readonly old: Worker[],
    workerCount: number,
    readonly batchSize: number,
  ) {
    this.batches = [];
    for (let first = 0; first < workerCount; first += batchSize) {
      const last = Math.min(first + batchSize, workerCount);
      this.batches.push(Array.from({ length: last - first }, (_, i) => first + i));
    }
  }

  get isBatched(): boolean {
    return this.batches.length > 1;
  }

  /** The old workers in `slots` (a slot emptied by a crash has none). */
  oldIn(slots: number[]): Worker[] {
    return this.old.filter((w) => slots.includes(w.slot));
  }

  /**
   * A batch passed its probation: 'let-go' when its old workers may go, 'hold' when they must
   * stay for a rollback (code changed in place, with a probation). Without a probation
   * (`--probation 0`) nothing rolls back in place: they go, and only another release's slots
   * are brought back after a failure.
   */
  passed(old: Worker[], next: Worker[], probation: boolean): 'let-go' | 'hold' {
    const inPlace = next.some((n) => old.find((o) => o.slot === n.slot)?.release === n.release);
    if (inPlace && probation) {
      this.held.push(...old);
      this.heldNext.push(...next);
      return 'hold';
    }
    if (inPlace) return 'let-go';
    for (const o of old) {
      this.letGo.push({ slot: o.slot, generation: o.generation, release: o.release });
    }
    return 'let-go';
  }

  /** The slots to bring back after a failure, in batches of K. */
  restoreBatches(): LetGoSlot[][] {
    const batches: LetGoSlot[][] = [];
    for (let i = 0; i < this.letGo.length; i += this.batchSize) {
      batches.push(this.letGo.slice(i, i + this.batchSize));
    }
    return batches;
  }
}
