import { nextDirectory } from '../command.js';
import { type GracefulRestartError, toGracefulError } from '../errors.js';
import { errorToWire, type RestartResult } from '../handover/outcome.js';
import type { Verdict } from '../handover/types.js';
import { probationVerdict } from '../handover/verdict.js';
import type { SupervisorLog } from './log-lines.js';
import type { ResolvedSupervisorOptions } from './options.js';
import type { ReloadBatches } from './reload-batches.js';
import type { WorkerStarter } from './start.js';
import type { SupervisorRecord } from './status.js';
import type { Worker, WorkerSet } from './workers.js';

/** A reload's new set, ready, and what each of its workers took over. */
export interface NewSet {
  next: Worker[];
  result: RestartResult;
  resultFor: (slot: number) => RestartResult;
}

/**
 * The steps of a reload that are the workers' business, not the state table's: starting the
 * new set beside the serving one, handing each old worker over to the new one in its slot, and
 * telling the old ones how the probation ended.
 */
export class ReloadSteps {
  constructor(
    private readonly options: ResolvedSupervisorOptions,
    private readonly workers: WorkerSet,
    private readonly starter: WorkerStarter,
    private readonly log: SupervisorLog,
    private readonly record: SupervisorRecord,
  ) {}

  /**
   * Starts new workers for `slots` (all of them, or a batch's) as `generation`; rejects when
   * one fails. `started`: the reload's start.
   */
  async start(
    old: Worker[],
    slots: number[],
    generation: number,
    started: number,
    batch?: { index: number; of: number },
  ): Promise<NewSet> {
    const { probationMs, cwd } = this.options;
    const { commandLine } = this.starter;
    this.log.reloadStarts(old, slots.length, nextDirectory(cwd), commandLine, batch);
    // The serving workers take what a rollback needs while the new ones start.
    if (probationMs > 0) for (const w of old) w.messages.send({ type: 'prepare' });
    const next = await this.starter.startSet(slots, generation);
    return {
      next,
      result: this.result(old, next, started),
      resultFor: (slot) => this.result(old, next, started, slot),
    };
  }

  /**
   * What a reload (or its batch) did: `next` replaced `old`, `started` ago; with `slot`, what
   * the new worker in that slot took over (a crash may have emptied it: then the first old one).
   */
  result(old: Worker[], next: Worker[], started: number, slot?: number): RestartResult {
    const inSlot = (w: Worker) => slot === undefined || w.slot === slot;
    const newOne = (next.find(inSlot) ?? next[0]) as Worker;
    const oldOne = old.find(inSlot) ?? old[0] ?? newOne;
    const sets = slot === undefined && this.options.workerCount > 1;
    return {
      oldPid: oldOne.pid,
      newPid: newOne.pid,
      durationMs: Math.round(performance.now() - started),
      cwd: newOne.cwd,
      command: this.starter.commandLine,
      ...(sets ? { oldPids: old.map((w) => w.pid), newPids: next.map((w) => w.pid) } : {}),
    };
  }

  /** The new set did not come: the old one serves on. */
  failed(old: Worker[], error: GracefulRestartError): void {
    this.record.lastReload = { ok: false, error: errorToWire(error) };
    this.log.reloadFailed(old, error);
    for (const w of old) w.messages.send({ type: 'restart-failed', ...errorToWire(error) });
  }

  /**
   * `next` took its slots: each new worker learns what it took over and when its predecessor is
   * gone; each old one still alive is told to drain (holding on through the probation).
   */
  handOver(next: Worker[], old: Worker[], resultFor?: (slot: number) => RestartResult): void {
    for (const worker of next) {
      const predecessor = old.find((w) => w.slot === worker.slot);
      const exited = predecessor && this.workers.isLive(predecessor) ? predecessor.exited : null;
      const tell = () => worker.messages.send({ type: 'predecessor-exited' });
      if (exited) void exited.then(tell);
      else tell();
      if (resultFor) worker.messages.send({ type: 'took-over', result: resultFor(worker.slot) });
    }
    if (!resultFor) return;
    const { probationMs } = this.options;
    for (const w of old) {
      if (!this.workers.isLive(w)) continue;
      const drainingBefore = this.workers.all.flatMap((d) =>
        d.slot === w.slot && d.role === 'draining' && d.drain ? [d.drain] : [],
      );
      w.role = 'draining';
      const result = resultFor(w.slot);
      w.messages.send({ type: 'handover', result, probationMs, drainingBefore });
    }
  }

  /**
   * The new set serves: its probation's verdict (passed at once without one). A newer reload
   * ends it early (`endEarly`), as passed.
   */
  async probation(next: Worker[], endEarly: AbortSignal): Promise<Verdict> {
    const { probationMs } = this.options;
    if (probationMs <= 0) return { passed: true };
    const wording = { what: 'worker', servesAgain: '' } as const;
    const verdict = await probationVerdict(next, probationMs, wording, endEarly);
    if (!verdict.passed) this.record.lastReload = { ok: false, error: errorToWire(verdict.error) };
    return verdict;
  }

  /** The new set passed its probation: the reload counts, with the probation it waited out. */
  passed(old: Worker[], served: RestartResult): RestartResult {
    const { probationMs } = this.options;
    const result = probationMs > 0 ? { ...served, probationMs } : served;
    this.record.reloads += 1;
    this.record.lastReload = { ok: true, result };
    this.letGo(old);
    return result;
  }

  /** However a probation ended, the old workers that drain learn that they may go. */
  letGo(old: Worker[]): void {
    for (const w of old) {
      if (this.workers.isLive(w) && w.role === 'draining') {
        w.messages.send({ type: 'probation-passed' });
      }
    }
  }

  /**
   * A rollback: the new workers in these slots go, and the old ones still alive serve again in
   * theirs. Returns those.
   */
  serveAgain(old: Worker[], next: Worker[], error: GracefulRestartError): Worker[] {
    for (const w of next) this.workers.vacate(w);
    this.workers.stop(next);
    const alive = old.filter((w) => this.workers.isLive(w));
    this.workers.place(alive);
    for (const w of alive) {
      w.role = 'serving';
      // It said it leaves when it began to drain; serving again, its exit would be a crash.
      w.saidLeaving = false;
      w.messages.send({ type: 'rollback', ...errorToWire(error) });
    }
    if (alive.length > 0) this.log.rolledBack(alive, error);
    else if (old.length > 0) this.log.noneToRollBackTo(old, error);
    return alive;
  }

  /**
   * A reload failed: the old workers in the failed batch's slots (`old`, none when it did not
   * start) and the ones held on serve again, `next` goes, and the slots whose old workers went
   * get their release back. Says how many serve again, and how many old ones were lost.
   */
  async undo(
    run: ReloadBatches,
    old: Worker[],
    next: Worker[],
    error: GracefulRestartError,
    stopping: () => boolean,
  ): Promise<{ alive: number; lost: number }> {
    const before = [...run.held, ...old];
    const alive = this.serveAgain(before, [...run.heldNext, ...next], error);
    await this.restore(run, stopping);
    const lostNone = alive.length === before.length;
    // None left: the slot's new worker died with no old one to take over, one crash.
    return {
      alive: alive.length,
      lost: lostNone ? 0 : alive.length === 0 ? 1 : before.length - alive.length,
    };
  }

  /**
   * A batch failed after earlier ones passed and their old workers went: those slots get the
   * release they ran before, K at a time, and the new workers there drain. Ends at the first
   * start that fails (the new release then serves on there) or at a stop.
   */
  async restore(run: ReloadBatches, stopping: () => boolean): Promise<void> {
    for (const batch of run.restoreBatches()) {
      const started = performance.now();
      const slots = batch.map((s) => s.slot);
      const releaseOf = (slot: number) => batch.find((s) => s.slot === slot)?.release ?? '';
      this.log.restoreStarts(batch);
      let back: Worker[];
      try {
        back = await this.starter.startSet(slots, batch[0]?.generation ?? 0, releaseOf);
      } catch (cause) {
        this.log.restoreFailed(
          batch,
          toGracefulError(cause, 'Starting the earlier release failed'),
        );
        return;
      }
      if (stopping()) {
        this.workers.stop(back);
        return;
      }
      const replaced = this.workers.serving.filter((w) => slots.includes(w.slot));
      this.workers.place(back);
      this.handOver(back, replaced, (slot) => this.result(replaced, back, started, slot));
      this.letGo(replaced);
      this.log.restored(back, replaced);
      await Promise.all(replaced.map((w) => w.exited));
    }
  }
}
