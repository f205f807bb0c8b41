import { ErrorCodes, GracefulRestartError, toGracefulError } from '../errors.js';
import type { RestartResult } from '../handover/outcome.js';
import type { SystemdNotifier } from '../systemd.js';
import type { SupervisorLog } from './log-lines.js';
import type { ResolvedSupervisorOptions } from './options.js';
import type { NewSet, ReloadSteps } from './reload.js';
import { ReloadBatches } from './reload-batches.js';
import {
  isStopping,
  needsWorker,
  type SupervisorEvent,
  type SupervisorOutcome,
  type SupervisorState,
} from './state.js';
import type { SupervisorRecord } from './status.js';
import type { Worker, WorkerSet } from './workers.js';

/** The supervisor's moves a reload asks for: its state table, and placing workers in slots. */
interface SupervisorMoves {
  apply(event: SupervisorEvent): SupervisorOutcome;
  state(): SupervisorState;
  /** `next` serves in its slots and the workers in `old` drain; false when a stop came. */
  promote(next: Worker[], old: Worker[], resultFor: (slot: number) => RestartResult): boolean;
  /** Fills the empty slots, with backoff. */
  bringUpWorkers(): void;
}

/**
 * Reloads: one at a time (a second joins it, or queues behind its probation), each replacing
 * the serving set batch by batch, and undoing every batch when one fails. The state table
 * decides through `moves`; the steps are ReloadSteps'.
 */
export class Reloader {
  /** The reload under way: a stop and a crash wait for it. */
  inFlight: Promise<RestartResult> | undefined;
  /** The reloads so far: the generation new workers belong to. */
  generation = 0;
  /** Ends the probation under way as passed: a newer reload came. */
  private probationEnds = new AbortController();

  constructor(
    private readonly options: ResolvedSupervisorOptions,
    private readonly workers: WorkerSet,
    private readonly steps: ReloadSteps,
    private readonly log: SupervisorLog,
    private readonly record: SupervisorRecord,
    private readonly notifier: SystemdNotifier | undefined,
    private readonly moves: SupervisorMoves,
  ) {}

  /** A new set of workers, ready, then the serving set drains. Concurrent calls share one. */
  reload(): Promise<RestartResult> {
    const outcome = this.moves.apply('reload');
    if (outcome.type === 'refuse') {
      const message = `Cannot reload: ${outcome.reason}.`;
      return Promise.reject(new GracefulRestartError(ErrorCodes.INVALID_STATE, message));
    }
    if (outcome.type === 'join' && this.inFlight) return this.inFlight;
    if (outcome.type === 'queue') {
      this.probationEnds.abort();
      const next = () => this.reload();
      return (this.inFlight ?? Promise.resolve()).then(next, next);
    }
    const attempt = this.run(this.workers.serving).finally(() => {
      this.inFlight = undefined;
    });
    this.inFlight = attempt;
    return attempt;
  }

  /** Replaces the serving set, K slots at a time (`--reload-batch`; all at once by default). */
  private async run(old: Worker[]): Promise<RestartResult> {
    const started = performance.now();
    await this.notifier?.reloading();
    this.generation += 1;
    const { workerCount, reloadBatch, probationMs } = this.options;
    const run = new ReloadBatches(old, workerCount, reloadBatch);
    let set: NewSet | undefined;
    let batchOld: Worker[] = [];
    for (const [index, slots] of run.batches.entries()) {
      if (set) {
        // The last batch passed: its old workers go (or hold on), and once they have exited
        // (their drains done) the next batch starts, so that at most N+K run.
        if (run.passed(batchOld, set.next, probationMs > 0) === 'hold') {
          this.log.batchHeld(batchOld);
        } else {
          this.steps.letGo(batchOld);
          await Promise.all(batchOld.map((w) => w.exited));
        }
        this.moves.apply('batch-passed');
        if (isStopping(this.moves.state())) return set.result;
      }
      batchOld = run.oldIn(slots);
      try {
        const batch = run.isBatched ? { index, of: run.batches.length } : undefined;
        set = await this.steps.start(batchOld, slots, this.generation, started, batch);
      } catch (cause) {
        const error = toGracefulError(cause, 'Reload failed');
        this.steps.failed(batchOld, error);
        this.countLost(await this.steps.undo(run, [], [], error, this.stopping));
        await this.notifier?.restartFailed(error.message);
        this.moves.apply('reload-failed');
        // A serving worker died meanwhile: bring one back.
        if (needsWorker(this.moves.state())) this.moves.bringUpWorkers();
        throw error;
      }
      const { next, result, resultFor } = set;
      if (!this.moves.promote(next, batchOld, resultFor)) return result;
      this.log.reloaded(result, batchOld, next, probationMs);
      this.probationEnds = new AbortController();
      const verdict = await this.steps.probation(next, this.probationEnds.signal);
      if (!verdict.passed) {
        // Not rolled back (a stop, or the set was already replaced after a crash): the old
        // workers still wait for a verdict, and may go.
        if (!(await this.rollBack(run, batchOld, next, verdict.error))) {
          this.steps.letGo([...run.held, ...batchOld]);
        }
        throw verdict.error;
      }
    }
    this.moves.apply('probation-passed');
    let done = (set as NewSet).result;
    if (run.isBatched) {
      done = this.steps.result(old, this.workers.serving, started);
      this.log.batchesDone(done, run.batches.length);
    }
    const counted = this.steps.passed([...run.held, ...batchOld], done);
    // A new worker left on purpose during its probation: refill its slot, as after a crash.
    if (needsWorker(this.moves.state())) this.moves.bringUpWorkers();
    return counted;
  }

  private readonly stopping = () => isStopping(this.moves.state());

  /**
   * A new worker died on probation: the old workers serve again, and the batches already
   * replaced get their release back (empty slots are refilled). False when there was no
   * probation to roll back (a stop came, or a crash already moved on).
   */
  private async rollBack(
    run: ReloadBatches,
    old: Worker[],
    next: Worker[],
    error: GracefulRestartError,
  ): Promise<boolean> {
    if (this.moves.state() !== 'probation') return false;
    const undone = await this.steps.undo(run, old, next, error, this.stopping);
    if (undone.alive > 0) {
      this.moves.apply('rolled-back');
      void this.notifier?.restartFailed(error.message);
    }
    this.countLost(undone);
    if (needsWorker(this.moves.state())) this.moves.bringUpWorkers();
    return true;
  }

  /** Old workers that died before they could serve again: their slots are empty now. */
  private countLost({ lost }: { lost: number }): void {
    if (lost === 0) return;
    this.record.crashes += lost;
    this.moves.apply('worker-died');
  }
}
