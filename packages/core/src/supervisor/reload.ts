import { nextDirectory } from '../command.js';
import type { GracefulRestartError } from '../errors.js';
import { errorToWire, type RestartResult } from '../handover/outcome.js';
import type { Verdict } from '../handover/types.js';
import { probationVerdict } from '../handover/verdict.js';
import type { SupervisorLog } from './log-lines.js';
import type { ResolvedSupervisorOptions } from './options.js';
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

  /** Starts a whole new set as `generation`; rejects when one fails. `started`: the reload's start. */
  async start(old: Worker[], generation: number, started: number): Promise<NewSet> {
    const { probationMs, workerCount, cwd } = this.options;
    const { commandLine } = this.starter;
    this.log.reloadStarts(old, workerCount, nextDirectory(cwd), commandLine);
    // The serving workers take what a rollback needs while the new ones start.
    if (probationMs > 0) for (const w of old) w.messages.send({ type: 'prepare' });
    const slots = Array.from({ length: workerCount }, (_, slot) => slot);
    const next = await this.starter.startSet(slots, generation);
    const durationMs = Math.round(performance.now() - started);
    const resultFor = (slot: number): RestartResult => ({
      oldPid: (old.find((w) => w.slot === slot) ?? old[0] ?? (next[slot] as Worker)).pid,
      newPid: (next[slot] as Worker).pid,
      durationMs,
      cwd: (next[slot] as Worker).cwd,
      command: commandLine,
    });
    const many = workerCount > 1;
    const result: RestartResult = {
      ...resultFor(0),
      ...(many ? { oldPids: old.map((w) => w.pid), newPids: next.map((w) => w.pid) } : {}),
    };
    return { next, result, resultFor };
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

  /** A rollback: the new set goes, and the old workers still alive serve again in their slots. */
  serveAgain(old: Worker[], next: Worker[], error: GracefulRestartError): Worker[] {
    this.workers.clear();
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
    else this.log.noneToRollBackTo(old, error);
    return alive;
  }
}
