import { DEFAULTS } from '../defaults.js';
import type { RestartResult } from '../handover/outcome.js';
import { resolveLogger } from '../logger.js';
import { refuseUnsupportedPlatform } from '../platform.js';
import type { SignalHandlers } from '../signals.js';
import { SystemdNotifier } from '../systemd.js';
import { atKeyboard, guardTerminalWrites } from '../terminal.js';
import type { SupervisorStatus } from './control-protocol.js';
import { SupervisorLog } from './log-lines.js';
import {
  type ResolvedSupervisorOptions,
  resolveSupervisorOptions,
  SupervisorExitCodes,
  type SupervisorOptions,
} from './options.js';
import { Recovery } from './recovery.js';
import { ReloadSteps } from './reload.js';
import { Reloader } from './reloader.js';
import { SupervisorResources } from './resources.js';
import { supervisorSignals } from './signal-policy.js';
import { WorkerStarter } from './start.js';
import {
  isStopping,
  needsWorker,
  type SupervisorEvent,
  type SupervisorOutcome,
  type SupervisorState,
  supervisorTransition,
} from './state.js';
import { SupervisorRecord, supervisorStatus } from './status.js';
import { type Worker, WorkerSet } from './workers.js';

export { SupervisorExitCodes, type SupervisorOptions } from './options.js';

/**
 * The stable-PID supervisor (`graceful-restart run`): holds the listeners, runs the app as
 * workers, replaces them on reload and after a crash, stops them. Its state table (state.ts)
 * decides every move; each thing it moves is a module of its own in this folder.
 */
export class Supervisor {
  private currentState: SupervisorState = 'starting';
  private readonly options: ResolvedSupervisorOptions;
  private readonly log: SupervisorLog;
  private readonly notifier: SystemdNotifier | undefined;
  private readonly signals: SignalHandlers;
  private readonly workers: WorkerSet;
  private readonly starter: WorkerStarter;
  private readonly recovery: Recovery;
  private readonly record = new SupervisorRecord();
  private readonly resources: SupervisorResources;
  private readonly reloadSteps: ReloadSteps;
  private readonly reloader: Reloader;
  private stopRun: Promise<number> | undefined;
  private exitWith: (code: number) => void = () => undefined;
  private readonly exitCode = new Promise<number>((resolve) => {
    this.exitWith = resolve;
  });

  constructor(options: SupervisorOptions) {
    refuseUnsupportedPlatform();
    guardTerminalWrites();
    this.options = resolveSupervisorOptions(options);
    const logger = resolveLogger(options.logger);
    this.log = new SupervisorLog(logger);
    this.notifier = SystemdNotifier.fromEnv(logger);
    this.workers = new WorkerSet(this.options.workerCount);
    this.resources = new SupervisorResources(this.options, this.log);
    const held = () => this.resources.listeners;
    this.starter = new WorkerStarter(this.options, this.workers, held, this.log, {
      // A worker's own restart (its SIGHUP, its admin route): the supervisor reloads the set.
      restartAsked: (worker) =>
        this.workers.isServing(worker)
          ? this.reload().catch(() => undefined)
          : this.workers.refuseRestart(worker),
      crashed: (worker) => this.lost(worker),
      exited: (worker) => this.lost(worker, true),
    });
    this.recovery = new Recovery(this.options.maxRestarts, logger, this.starter.aborted);
    const { workers, starter, log, record } = this;
    this.reloadSteps = new ReloadSteps(this.options, workers, starter, log, record);
    const steps = this.reloadSteps;
    this.reloader = new Reloader(this.options, workers, steps, log, record, this.notifier, {
      apply: (event) => this.apply(event),
      state: () => this.currentState,
      promote: (next, old, resultFor) => this.promote(next, old, resultFor),
      bringUpWorkers: () => this.bringUpWorkers(),
    });
    this.signals = supervisorSignals(this.log, this);
  }

  get state(): SupervisorState {
    return this.currentState;
  }

  /** Moves as the state table says and returns the outcome; `refuse` is the caller's to report. */
  private apply(event: SupervisorEvent): SupervisorOutcome {
    const outcome = supervisorTransition(this.currentState, event);
    if (outcome.type === 'move') this.currentState = outcome.to;
    return outcome;
  }

  /** Binds, starts the first workers (retrying with backoff) and resolves with the exit code. */
  async run(): Promise<number> {
    this.signals.install();
    try {
      await this.resources.open({
        reload: () => this.reload(),
        status: () => this.status(),
        stop: () => void this.stop('control'),
      });
    } catch (error) {
      this.log.logger.error((error as Error).message);
      await this.release();
      this.signals.uninstall();
      return SupervisorExitCodes.FAILED;
    }
    this.log.started(this.options.controlPath, this.workers.count, this.options.lameDuck);
    // Not when a `stop` that came during the start has been carried out already.
    if (needsWorker(this.currentState)) this.bringUpWorkers();
    return this.exitCode;
  }

  /** A new set of workers, ready, then the serving set drains. Concurrent calls share one. */
  reload(): Promise<RestartResult> {
    return this.reloader.reload();
  }

  /**
   * `next` (a whole set after a reload, or workers for empty slots) serves from now on; the
   * workers they replace (if still alive) are told to drain. False when a stop came meanwhile.
   */
  private promote(
    next: Worker[],
    old: Worker[] = [],
    resultFor?: (slot: number) => RestartResult,
  ): boolean {
    if (isStopping(this.currentState)) {
      // The new workers go with the others (runStop waits for them).
      this.workers.stop(next);
      return false;
    }
    const placed = this.workers.place(next);
    if (this.apply(placed).type === 'move' && placed === 'worker-ready') {
      void this.notifier?.ready(process.pid, false);
    }
    this.reloadSteps.handOver(next, old, resultFor);
    return true;
  }

  /** Fills the empty slots (at start, after a crash) with backoff; gives up after maxRestarts. */
  private bringUpWorkers(): void {
    const firstStart = this.currentState === 'starting';
    this.recovery.run(
      {
        needed: () => needsWorker(this.currentState),
        fill: () =>
          this.starter.fillEmptySlots(this.reloader.generation, (next) => this.promote(next)),
        giveUp: (failures) => {
          this.log.givingUp(failures, SupervisorExitCodes.GAVE_UP);
          void this.stop('gave up', { exitCode: SupervisorExitCodes.GAVE_UP });
        },
      },
      firstStart,
    );
  }

  /** A worker that said it crashed (it leaves), or exited: its slot is refilled with backoff. */
  private lost(worker: Worker, exited = false): void {
    if (exited) this.workers.forget(worker);
    if (!this.workers.isServing(worker)) {
      this.log.workerExited(worker);
      return;
    }
    // A new worker that dies on probation: the reload rolls back (see Reloader). One that
    // left on purpose is replaced as after a crash.
    const onProbation =
      this.currentState === 'probation' && worker.generation === this.reloader.generation;
    if (onProbation && !worker.saidLeaving) return;
    this.workers.vacate(worker);
    if (this.apply('worker-died').type !== 'move' || !needsWorker(this.currentState)) {
      this.log.workerExited(worker);
      return;
    }
    this.record.crashes += 1;
    if (Date.now() - worker.readyAt >= DEFAULTS.stableAfterMs) this.recovery.servedLong();
    this.log.workerDied(worker, this.workers.serving);
    // A reload under way brings the next set; if it fails, it brings workers up itself.
    if (!this.reloader.inFlight) this.bringUpWorkers();
  }

  status(): SupervisorStatus {
    const { currentState, workers, record, starter, options } = this;
    const where = {
      held: this.resources.listeners,
      cwd: options.cwd,
      command: starter.commandLine,
    };
    return supervisorStatus(currentState, workers, record, where, this.recovery.failures);
  }

  /** Every worker drains and exits, then the listeners go. A second stop signal is passed on. */
  stop(reason: string, how: { signal?: NodeJS.Signals; exitCode?: number } = {}): Promise<number> {
    const outcome = this.apply('stop');
    if (outcome.type === 'force' && how.signal) {
      this.log.signalPassedOn(how.signal);
      for (const worker of this.workers.all) worker.child.kill(how.signal);
    }
    this.stopRun ??= this.runStop(reason, how);
    return this.stopRun;
  }

  private async runStop(reason: string, how: { signal?: NodeJS.Signals; exitCode?: number }) {
    const ctrlC = how.signal === 'SIGINT' && atKeyboard();
    this.log.stopping(reason, this.workers.all.length, ctrlC, this.options.lameDuck);
    await this.notifier?.stopping();
    this.starter.abortAll();
    // An aborted start settles once its child is stopped; one that said ready just before the
    // stop was told to stop in promote().
    const codes = await this.workers.stopAll(async () => {
      await this.reloader.inFlight?.catch(() => undefined);
      await this.recovery.settled();
    }, this.options.lameDuck.ms);
    await this.release();
    const clean = codes.every((c) => c === 0);
    const code = how.exitCode ?? (clean ? SupervisorExitCodes.CLEAN : SupervisorExitCodes.FAILED);
    this.apply('stopped');
    this.log.logger.info(`stopped (exit code ${code})`);
    this.signals.uninstall();
    this.exitWith(code);
    return code;
  }

  private async release(): Promise<void> {
    await this.resources.release();
    await this.notifier?.flush();
  }
}
