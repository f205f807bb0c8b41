import { EventEmitter } from 'node:events';
import type { Server as NetServer } from 'node:net';
import { constants as osConstants } from 'node:os';
import { DEFAULTS } from '../defaults.js';
import {
  ConnectionTracker,
  type DrainReport,
  keepAliveHintFor,
  mergeDrainReports,
  type ServerProtocol,
} from '../drain/tracker.js';
import {
  ErrorCodes,
  GracefulRestartError,
  isGracefulRestartError,
  toGracefulError,
} from '../errors.js';
import {
  type Handover,
  PredecessorLink,
  type SuccessorMessenger,
  type Verdict,
} from '../handover/spawn.js';
import { claimProcess, refuseSecondInstance, releaseProcess } from './instance.js';
import type { Logger } from '../logger.js';
import { type GracefulOptions, type ResolvedOptions, resolveOptions } from '../options.js';
import { directRestartHazard } from '../parent.js';
import { checkPidFileDirectory, removePidFile, writePidFile } from '../pid-file.js';
import { refuseUnsupportedPlatform } from '../platform.js';
import { errorToWire, type RestartOutcome, type RestartResult } from '../handover/protocol.js';
import {
  AskSupervisor,
  RefuseRestart,
  type RestartStrategy,
  SpawnNextGeneration,
} from '../handover/strategies.js';
import { RollbackReserve } from './rollback-reserve.js';
import { runShutdownHooks } from './shutdown-hooks.js';
import { SignalHandlers } from '../signals.js';
import { GenerationSockets, type ListenerInfo } from '../sockets/acquire.js';
import type { HeldHandle } from '../sockets/duplicate.js';
import { Inheritance } from '../sockets/inheritance.js';
import { type ListenerSpec, listenerName, normalizeSpec } from '../sockets/spec.js';
import {
  isShuttingDown,
  isStarting,
  type Outcome,
  type State,
  type StateEvent,
  transition,
} from './state.js';
import { SystemdNotifier } from '../systemd.js';
import { atKeyboard, ignoreDeadTerminal, terminalHungUp } from '../terminal.js';

export interface GracefulEvents {
  state: [state: State, previous: State];
  restart: [result: RestartResult];
  'restart-failed': [error: GracefulRestartError];
  /** The next generation died on probation: this one serves again (code ROLLED_BACK). */
  rollback: [error: GracefulRestartError, result: RestartResult];
  drained: [report: DrainReport];
  /**
   * In the new generation: the restart that made it serve, as the previous generation measured
   * it (also its `lastRestart`). Not emitted for a first generation.
   */
  'took-over': [result: RestartResult];
  /** In the new generation: the one it replaced has drained (its drain report). */
  'predecessor-drained': [report: DrainReport];
}

/** The most an onHandOff() value may weigh, as JSON: it travels as one line between processes. */
const MAX_HAND_OFF_BYTES = 48 * 1024;
/** How long a handover waits for an onHandOff() provider that returns a promise. */
const HAND_OFF_TIMEOUT_MS = 1_000;

/** How long after the supervisor's stop message a stop signal still counts as the same stop. */
const GROUP_SIGNAL_WINDOW_MS = 1_000;

/** Exit codes: 0 after a clean handover or shutdown; 1 when forced. A second shutdown signal exits with 128 + its number. */
export const ExitCodes = {
  CLEAN: 0,
  /** The drain deadline cut connections, or a cleanup hook failed. */
  FORCED: 1,
} as const;

/**
 * One generation of a server: declares its listeners, says ready, restarts into the next
 * generation, drains and exits. Create one per process. Where sockets come from is the sockets
 * module's business, how the next generation starts is the restart strategy's (chosen here,
 * once); this class owns the lifecycle, and its state table decides every move.
 */
export class Graceful extends EventEmitter<GracefulEvents> {
  private currentState: State;
  private readonly options: ResolvedOptions;
  private readonly sockets: GenerationSockets;
  private readonly trackers: ConnectionTracker[] = [];
  private readonly cleanups: Array<() => unknown> = [];
  private readonly predecessor: PredecessorLink | undefined;
  private readonly strategy: RestartStrategy;
  private readonly signals: SignalHandlers | undefined;
  private readonly notifier: SystemdNotifier | undefined;
  /** The restart under way: a shutdown aborts it, and exits only once its successor is stopped. */
  private restartInFlight: { abort: AbortController; attempt: Promise<RestartResult> } | undefined;
  /** The one drain of this generation, after a handover or for shutdown; a shutdown joins it. */
  private drainPromise: Promise<DrainReport> | undefined;
  /** Duplicates of the listening sockets, held from ready() on: what a rollback listens on. */
  private readonly reserve: RollbackReserve;
  /** Ends a probation early: a shutdown does not wait for it (nor rolls back). */
  private endProbation: (() => void) | undefined;
  /** A restart signal that arrived before ready(): carried out right after it. */
  private restartRequestedWhileStarting: NodeJS.Signals | undefined;
  private readonly startedAt = Date.now();
  /** The last restart's outcome, for status routes. */
  lastRestart: RestartOutcome | undefined;
  /** What this generation hands to the next: see onHandOff(). */
  private handOffProvider: (() => unknown) | undefined;
  /** The generation that replaced this one, while this one drains. */
  private successor: SuccessorMessenger | undefined;

  constructor(options: GracefulOptions = {}) {
    super();
    refuseUnsupportedPlatform();
    this.options = resolveOptions(options);
    const inheritance = Inheritance.forProcess();
    refuseSecondInstance({
      handlesSignals: this.options.signals !== false,
      successor: inheritance.manifest !== undefined,
    });
    if (this.options.pidFile) checkPidFileDirectory(this.options.pidFile);
    const log = this.options.logger;
    this.sockets = new GenerationSockets(inheritance, log);
    this.reserve = new RollbackReserve((signal) => this.sockets.holdDuplicates(signal), log);
    const manifest = inheritance.manifest;
    this.predecessor = manifest
      ? new PredecessorLink(manifest.readyFd, manifest.supervised === true)
      : undefined;
    this.currentState = this.predecessor ? 'taking-over' : 'starting';
    if (this.predecessor) {
      this.predecessor.onTookOver = (result) => {
        this.lastRestart ??= { ok: true, result };
        this.emit('took-over', result);
      };
      this.predecessor.onPredecessorDrained = (report) => this.emit('predecessor-drained', report);
      this.predecessor.onShutdown = () => this.stopFromSupervisor();
    }
    this.notifier = SystemdNotifier.fromEnv(log);
    const { signals } = this.options;
    this.signals =
      signals === false
        ? undefined
        : new SignalHandlers(
            signals,
            {
              restart: (signal) => this.restartFromSignal(signal),
              shutdown: (signal) => void this.stop(signal),
            },
            log,
          );
    const hazard = this.predecessor?.supervised ? undefined : directRestartHazard();
    if (hazard) log.warn(`restarts are refused here: ${hazard.reason}. ${hazard.fix}`);
    this.strategy =
      this.predecessor?.supervised === true
        ? new AskSupervisor(
            this.predecessor,
            {
              handedOver: (handover) => this.supervisorHandedOver(handover),
              restartFailed: (error) => this.restartFailed(error, 'the supervisor'),
              gone: () => this.supervisorGone(),
              prepare: () => this.prepareRollback(),
            },
            log,
          )
        : hazard
          ? new RefuseRestart(hazard)
          : new SpawnNextGeneration({
              command: this.options.command,
              cwd: this.options.cwd,
              env: this.options.env,
              probationMs: this.options.probationMs,
              readyTimeoutMs: this.options.readyTimeoutMs,
              listeners: () => this.sockets.handOver(),
              log,
            });
    claimProcess(this, { handlesSignals: this.signals !== undefined });
    // From the start, so that a signal during startup (a reload right after launch, Ctrl-C) is
    // handled, not the default action that kills the process.
    this.signals?.install();
  }

  get state(): State {
    return this.currentState;
  }

  /** True once this process is shutting down for good (not during a handover): health answers 503. */
  get shuttingDown(): boolean {
    return isShuttingDown(this.currentState);
  }

  /** The listeners of this generation, in declaration order. */
  get endpoints(): ListenerInfo[] {
    return this.sockets.endpoints;
  }

  /** Where this generation logs (the `logger` option, resolved). */
  get logger(): Logger {
    return this.options.logger;
  }

  get pid(): number {
    return process.pid;
  }

  get uptimeMs(): number {
    return Date.now() - this.startedAt;
  }

  /** True when this generation took over listeners from a previous one (or from the supervisor). */
  get isSuccessor(): boolean {
    return this.predecessor !== undefined;
  }

  /** True when started by `graceful-restart run`: the supervisor owns listeners and restarts. */
  get supervised(): boolean {
    return this.strategy.supervised;
  }

  /** Moves as the state table says; throws INVALID_STATE when it refuses. */
  private apply(event: StateEvent): Outcome {
    const outcome = transition(this.currentState, event);
    if (outcome.type === 'refuse') {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_STATE,
        `Cannot ${event} while ${this.currentState}: ${outcome.reason}.`,
      );
    }
    if (outcome.type === 'move' && outcome.to !== this.currentState) {
      const previous = this.currentState;
      this.currentState = outcome.to;
      this.emit('state', outcome.to, previous);
    }
    return outcome;
  }

  /**
   * Makes `server` listen on the named listener: inherited from the previous generation when
   * there is one, else from systemd socket activation, else bound fresh. Call before ready().
   */
  async listen(
    server: NetServer,
    spec: ListenerSpec,
    protocol?: ServerProtocol,
  ): Promise<ListenerInfo> {
    spec = normalizeSpec(spec);
    const name = listenerName(spec);
    try {
      this.apply('listen');
    } catch (error) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_STATE,
        `Listener "${name}": ${(error as Error).message}`,
        { listener: name },
      );
    }
    this.sockets.checkNewName(name);
    if (server.listening) {
      throw new GracefulRestartError(
        ErrorCodes.SERVER_UNSUPPORTED,
        `Listener "${name}": the server is already listening. Pass it to listen() instead of calling server.listen().`,
        { listener: name },
      );
    }
    const { drain } = this.options;
    this.trackers.push(
      new ConnectionTracker(server, protocol, {
        keepAliveHintSeconds: drain.keepAliveHint ? keepAliveHintFor(drain.idleGraceMs) : undefined,
      }),
    );
    // A server closed by its owner (not by a handover) lets go of its port: so do the duplicates.
    server.on('close', () => {
      if (this.currentState === 'serving') void this.reserve.drop();
    });
    return this.sockets.acquire(server, spec);
  }

  /** Under the supervisor: what this worker carries, for `status`, each second it changed. */
  private reportLoad(link: PredecessorLink): void {
    let last = '';
    const report = () => {
      const load = { connections: 0, requests: 0 };
      for (const tracker of this.trackers) {
        load.connections += tracker.load.connections;
        load.requests += tracker.load.requests;
      }
      const key = `${load.connections} ${load.requests}`;
      if (key === last) return;
      last = key;
      link.sendLoad(load);
    };
    report();
    setInterval(report, DEFAULTS.loadReportMs).unref();
  }

  /**
   * This generation is ready to serve: unclaimed inherited fds are closed, the previous
   * generation is told (it then drains) and the PID file is written.
   */
  async ready(): Promise<void> {
    // Unmatched socket activation refuses the start before anything is told it is ready.
    if (isStarting(this.currentState)) this.sockets.closeUnclaimed();
    this.apply('ready');
    this.signals?.warnAboutOtherListeners();
    // systemd learns the new main pid before the previous generation is told to drain and exit.
    await this.notifier?.ready(process.pid, this.predecessor !== undefined);
    if (this.predecessor) await this.predecessor.sendReady();
    if (this.supervised && this.predecessor) this.reportLoad(this.predecessor);
    if (this.options.pidFile) await writePidFile(this.options.pidFile, process.pid);
    const from = this.supervised
      ? `, supervised by pid ${process.ppid}`
      : this.predecessor
        ? ', took over from the previous generation'
        : '';
    this.logger.info(`ready (pid ${process.pid}${from})`, { event: 'ready', pid: process.pid });
    // Taken once the previous generation has gone (a first one: at once), so that a restart need
    // not start the helper beside its successor, and not while this one takes over: the helper's
    // spawn blocks this loop for about 10 ms, right when the clients move here. A restart sooner
    // takes them itself. Not for listeners their owner has closed meanwhile.
    void this.waitForParent().then(() =>
      setImmediate(() => {
        if (this.currentState === 'serving' && this.sockets.allListening()) this.prepareRollback();
      }),
    );
    const deferred = this.restartRequestedWhileStarting;
    this.restartRequestedWhileStarting = undefined;
    if (deferred && this.currentState === 'serving') this.restartFromSignal(deferred);
  }

  /** Resolves once the previous generation has exited (immediately for a first generation). */
  waitForParent(): Promise<void> {
    return this.predecessor ? this.predecessor.waitForExit() : Promise.resolve();
  }

  /** Runs `hook` once after connections are gone on the way out (close a DB pool, flush logs). */
  onShutdown(hook: () => unknown): this {
    this.cleanups.push(hook);
    return this;
  }

  /**
   * Hands data to the next generation at a restart (e.g. metric totals, so that counters go on
   * across generations): `provider` is called once the next generation is ready, and may return
   * a promise (waited for up to 1 s). JSON only, at most 48 KiB; the last provider given counts.
   * The next generation reads it with handedOff().
   */
  onHandOff(provider: () => unknown): this {
    this.handOffProvider = provider;
    return this;
  }

  /**
   * What the previous generation handed off (its onHandOff() value), once it has: undefined
   * for a first generation, after a crash, or when it handed nothing. Settles within
   * milliseconds of ready() in a restart.
   */
  handedOff(): Promise<unknown> {
    return this.predecessor?.handedOff ?? Promise.resolve(undefined);
  }

  /**
   * Starts the next generation, waits for it to be ready, then drains this one. Rejects with a
   * typed error, and keeps this generation serving, when the successor fails.
   */
  restart(): Promise<RestartResult> {
    try {
      this.apply('restart');
    } catch (error) {
      return Promise.reject(error);
    }
    const abort = new AbortController();
    const attempt = this.runRestart(abort.signal);
    const inFlight = { abort, attempt };
    this.restartInFlight = inFlight;
    const clear = () => {
      if (this.restartInFlight === inFlight) this.restartInFlight = undefined;
    };
    attempt.then(clear, clear);
    return attempt;
  }

  private async runRestart(signal: AbortSignal): Promise<RestartResult> {
    const started = performance.now();
    this.prepareRollback();
    await this.notifier?.reloading();
    try {
      const handover = await this.strategy.next(signal, started);
      const verdict = await this.handedOver(handover);
      if (verdict && !verdict.passed) throw verdict.error;
      return handover.result;
    } catch (cause) {
      // A rollback has been reported as such already.
      if (isGracefulRestartError(cause, ErrorCodes.ROLLED_BACK)) throw cause;
      const error = toGracefulError(cause, 'Restart failed');
      this.restartFailed(error, 'restart');
      throw error;
    }
  }

  /**
   * Takes what a rollback needs (direct mode with a probation, or supervised), unless it is
   * held already: after ready(), after a rollback, and again at a restart if taking it failed.
   */
  private prepareRollback(): void {
    if (this.strategy instanceof RefuseRestart) return;
    if (this.strategy.supervised || this.options.probationMs > 0) this.reserve.prepare();
  }

  /** The next generation did not come: this one serves on (unless a shutdown moved it on). */
  private restartFailed(error: GracefulRestartError, by: 'restart' | 'the supervisor'): void {
    this.lastRestart = { ok: false, error: errorToWire(error) };
    if (this.currentState === 'restarting') {
      this.apply('restart-failed');
      void this.notifier?.restartFailed(error.message);
    }
    this.logger.error(
      by === 'restart'
        ? `restart failed: ${error.message}`
        : `the supervisor's restart failed, still serving: ${error.message}`,
      { event: 'restart-failed', code: error.code, pid: process.pid },
    );
    this.emit('restart-failed', error);
  }

  /**
   * The next generation serves: record it, tell listeners, drain this one. With a probation,
   * this generation keeps the duplicates of its sockets it holds (the drain closes its own), and
   * rolls back if the next one dies on probation. Resolves with the probation's verdict.
   */
  private async handedOver({
    result,
    probation,
    successor,
  }: Handover): Promise<Verdict | undefined> {
    this.lastRestart = { ok: true, result };
    this.successor = successor;
    if (successor) {
      void handOffValue(this.handOffProvider, this.logger).then((data) => successor.handOff(data));
    }
    this.apply('restart-succeeded');
    this.logger.info(
      `restart: pid ${result.newPid} is ready after ${result.durationMs} ms; draining pid ${process.pid}` +
        (probation ? ' (it holds its sockets through the probation, to roll back)' : ''),
      {
        event: 'restart',
        oldPid: result.oldPid,
        newPid: result.newPid,
        durationMs: result.durationMs,
      },
    );
    this.emit('restart', result);
    // Without a probation the drain closes them.
    if (probation) this.reserve.prepare();
    const held = probation ? await this.reserve.claim() : undefined;
    // Without the duplicates no rollback is possible: no probation then.
    const watched = held && probation ? probation : undefined;
    void this.drainOnce(held && watched ? { verdict: watched, held, result } : undefined);
    return watched;
  }

  /** The supervisor's own SIGHUP or `reload`: the same moves as a restart this worker ran. */
  private supervisorHandedOver(handover: Handover): void {
    if (this.currentState !== 'serving') return;
    this.apply('restart');
    void this.handedOver(handover);
  }

  /**
   * The next generation died on probation: this one listens again on the sockets it held and
   * serves, as before the restart. PID file and systemd's MAINPID point back to it.
   */
  private async rollBack(held: HeldHandle[], error: GracefulRestartError, result: RestartResult) {
    this.apply('rollback');
    // New connections first: they wait in the listen backlog until this listens again.
    await this.sockets.listenAgain(held);
    for (const tracker of this.trackers) tracker.resume();
    // The held duplicates are the listeners now: new ones for the next rollback.
    this.prepareRollback();
    this.drainPromise = undefined;
    this.lastRestart = { ok: false, error: errorToWire(error) };
    this.logger.error(`rollback: ${error.message}`, {
      event: 'rollback',
      code: error.code,
      oldPid: result.oldPid,
      newPid: result.newPid,
    });
    this.successor = undefined;
    await this.notifier?.ready(process.pid, true);
    if (this.options.pidFile) await writePidFile(this.options.pidFile, process.pid);
    this.emit('rollback', error, result);
  }

  private supervisorGone(): void {
    if (isShuttingDown(this.currentState) || this.currentState === 'draining') return;
    // Nothing would restart this worker or hand its listeners on: leave cleanly.
    this.logger.error('the supervisor is gone; shutting down');
    void this.shutdown();
  }

  /** Drains and exits for good. A restart in progress is aborted and its successor stopped. */
  shutdown(): Promise<DrainReport> {
    return this.stop();
  }

  /**
   * The supervisor stops. A stop signal sent to the whole process group reaches this worker
   * too, just before or just after this message: the two are one stop, so a signal within
   * GROUP_SIGNAL_WINDOW_MS after the message joins the drain instead of forcing the exit.
   */
  private stopFromSupervisor(): void {
    // When the group's signal came first, it was that one: a signal after this is a second.
    if (!this.stopSignalReceived) this.supervisorStoppedAt = performance.now();
    void this.stop();
  }

  private supervisorStoppedAt: number | undefined;
  private stopSignalReceived = false;

  /** A shutdown from code, or from `signal`: the table says whether it starts, joins or forces. */
  private stop(signal?: NodeJS.Signals): Promise<DrainReport> {
    const outcome = this.apply('shutdown');
    const stoppedAt = this.supervisorStoppedAt;
    const firstSignal = signal !== undefined && !this.stopSignalReceived;
    if (signal) this.stopSignalReceived = true;
    if (
      outcome.type === 'force' &&
      firstSignal &&
      stoppedAt !== undefined &&
      performance.now() - stoppedAt < GROUP_SIGNAL_WINDOW_MS
    ) {
      this.supervisorStoppedAt = undefined;
      this.logger.info(`${signal} from the process group joins the supervisor's stop`);
      return this.drainOnce();
    }
    if (outcome.type === 'force' && signal) {
      this.logger.error(`${signal} again: exiting now without finishing the drain`);
      process.exit(128 + osConstants.signals[signal]);
    }
    if (outcome.type !== 'move') return this.drainOnce();
    if (signal === 'SIGINT' && atKeyboard() && !this.supervised) {
      this.logger.info(
        `SIGINT: shutting down, waiting up to ${this.options.drain.deadlineMs} ms for requests in flight; press Ctrl-C again to exit now`,
      );
    } else if (signal) this.logger.info(`${signal}: shutting down`);
    this.endProbation?.();
    // A final shutdown (not one after a handover, nor a successor's before ready) ends the service.
    if (this.currentState === 'stopping') void this.notifier?.stopping();
    this.restartInFlight?.abort.abort();
    return this.drainOnce();
  }

  private restartFromSignal(signal: NodeJS.Signals): void {
    if (signal === 'SIGHUP' && terminalHungUp()) {
      // A closed terminal is no deploy: restarting would leave a server running after logout.
      ignoreDeadTerminal();
      if (!isShuttingDown(this.currentState)) {
        this.logger.info('SIGHUP: the terminal hung up; shutting down');
      }
      void this.stop();
      return;
    }
    if (isStarting(this.currentState)) {
      // The code and config on disk may have changed since this process read them: the
      // request is kept, and carried out once this generation is ready.
      this.restartRequestedWhileStarting = signal;
      this.logger.info(`${signal} during startup: restarting once ready`);
      return;
    }
    this.logger.info(`${signal}: restart requested`);
    this.restart().catch((error: GracefulRestartError) => {
      if (error.code === ErrorCodes.INVALID_STATE)
        this.logger.warn(`${signal} ignored: ${error.message}`);
    });
  }

  private drainOnce(probation?: Probation): Promise<DrainReport> {
    if (this.drainPromise) {
      // A shutdown came first: no rollback then.
      for (const handle of probation?.held ?? []) handle.close();
      return this.drainPromise;
    }
    this.drainPromise = this.drainAndExit(probation);
    return this.drainPromise;
  }

  private async drainAndExit(probation?: Probation): Promise<DrainReport> {
    const { deadlineMs, idleGraceMs, paceMs, closeConnection } = this.options.drain;
    const started = performance.now();
    // Whoever started this generation learns that its exit will be on purpose.
    this.predecessor?.sendLeaving();
    // The drain's own timers (pacing, the final HTTP/2 GOAWAY, the deadline) are unref'd, and an
    // HTTP/2 session told to go away may not hold the loop: a ref'd timer keeps this process
    // alive until the drain is over, whatever ends the probation.
    const alive = setInterval(() => undefined, 60_000);
    // A probation has claimed its duplicates already; any other drain needs none. The drain
    // starts now; the listeners close once the duplicates are gone (ConnectionTracker.drain()).
    const dropped = this.reserve.drop();
    const draining = Promise.all(
      this.trackers.map((tracker) =>
        tracker.drain({ deadlineMs, idleGraceMs, paceMs, closeConnection }, dropped),
      ),
    ).finally(() => clearInterval(alive));
    let drainMs: number | undefined;
    void draining.then(() => {
      drainMs = performance.now() - started;
    });
    if (probation) {
      // Nothing else may keep this process alive once its connections are gone: a ref'd
      // timer does, until the verdict (a pending promise alone would let node exit).
      const waiting = setInterval(() => undefined, 60_000);
      const verdict = await new Promise<Verdict>((resolve) => {
        this.endProbation = () => resolve({ passed: true });
        void probation.verdict.then(resolve);
      });
      clearInterval(waiting);
      this.endProbation = undefined;
      if (!verdict.passed && this.currentState === 'draining') {
        await this.rollBack(probation.held, verdict.error, probation.result);
        return mergeDrainReports(await draining, Math.round(drainMs ?? 0));
      }
      for (const handle of probation.held) handle.close();
    }
    const reports = await draining;
    const report = mergeDrainReports(reports, Math.round(drainMs ?? performance.now() - started));
    // Only a final shutdown removes what the service owns; after a handover the next
    // generation does, and a successor stopped before ready never owned them.
    if (this.currentState === 'stopping') {
      await this.sockets.removeOwnedPaths();
      if (this.options.pidFile) await removePidFile(this.options.pidFile, process.pid);
    }
    // The hooks get what the drain left of its deadline (the probation wait does not count).
    const remaining = Math.max(0, deadlineMs - report.durationMs);
    const cleanFailed = !(await runShutdownHooks(this.cleanups, remaining, this.logger));
    this.logger.info(
      `drained in ${report.durationMs} ms: ${report.requestsCompleted} requests completed, ` +
        `${report.socketsClosedIdle} idle sockets closed, ${report.socketsForced} forced at the deadline`,
      {
        event: 'drained',
        pid: process.pid,
        durationMs: report.durationMs,
        requestsCompleted: report.requestsCompleted,
        socketsClosedIdle: report.socketsClosedIdle,
        socketsForced: report.socketsForced,
      },
    );
    this.signals?.uninstall();
    this.successor?.reportDrained(report);
    this.apply('drained');
    this.emit('drained', report);
    // A restart aborted by this shutdown settles once its successor is stopped.
    await this.restartInFlight?.attempt.catch(() => undefined);
    await this.notifier?.flush();
    if (this.options.exitProcess) {
      process.exit(report.deadlineReached || cleanFailed ? ExitCodes.FORCED : ExitCodes.CLEAN);
    }
    return report;
  }

  /**
   * Removes this instance's signal handlers and lets go of the process: another Graceful may
   * be created in it afterwards (tests, a server stopped without exiting).
   */
  uninstall(): void {
    this.signals?.uninstall();
    void this.reserve.drop();
    releaseProcess(this);
  }
}

/**
 * The onHandOff() value as it will travel: JSON, within the size limit. A provider that throws,
 * is late, or gives too much hands nothing, with a warning: the handover itself goes on.
 */
async function handOffValue(provider: (() => unknown) | undefined, log: Logger): Promise<unknown> {
  if (!provider) return undefined;
  try {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no value within ${HAND_OFF_TIMEOUT_MS} ms`)),
        HAND_OFF_TIMEOUT_MS,
      );
    });
    const value = await Promise.race([Promise.resolve().then(provider), late]).finally(() =>
      clearTimeout(timer),
    );
    if (value === undefined) return undefined;
    const json = JSON.stringify(value);
    const bytes = Buffer.byteLength(json);
    if (bytes > MAX_HAND_OFF_BYTES) {
      throw new Error(`its JSON is ${bytes} bytes, over ${MAX_HAND_OFF_BYTES}`);
    }
    return JSON.parse(json) as unknown;
  } catch (error) {
    log.warn(
      `onHandOff: nothing handed to the next generation: ${(error as Error).message ?? error}`,
      { event: 'hand-off-failed' },
    );
    return undefined;
  }
}

/** What a generation on probation holds: the verdict to wait for, and its sockets' duplicates. */
interface Probation {
  verdict: Promise<Verdict>;
  held: HeldHandle[];
  result: RestartResult;
}

export function createGraceful(options?: GracefulOptions): Graceful {
  return new Graceful(options);
}
