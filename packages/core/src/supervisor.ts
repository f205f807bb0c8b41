import type { ChildProcess } from 'node:child_process';
import { LineChannel } from './channel.js';
import { describeCommand, nextDirectory } from './command.js';
import { ControlServer } from './control.js';
import { DEFAULTS } from './defaults.js';
import { startEnvironment } from './environment.js';
import { ErrorCodes, GracefulRestartError, toGracefulError } from './errors.js';
import { type Successor, startSuccessor } from './handover.js';
import { type Logger, resolveLogger } from './logger.js';
import { defaultProbationMs } from './options.js';
import { removePidFile, writePidFile } from './pid-file.js';
import { refuseUnsupportedPlatform } from './platform.js';
import {
  errorToWire,
  type RestartOutcome,
  type RestartResult,
  type SupervisorMessage,
  type SupervisorStatus,
  type WorkerMessage,
} from './protocol.js';
import { SignalHandlers } from './signals.js';
import { type HeldListener, holdListeners } from './sockets/held.js';
import { describeHandedOver, type ListenerSpec, normalizeSpec } from './sockets/spec.js';
import {
  needsWorker,
  type SupervisorEvent,
  type SupervisorOutcome,
  type SupervisorState,
  supervisorTransition,
  type WorkerRole,
} from './supervisor-state.js';
import { SystemdNotifier } from './systemd.js';
import { atKeyboard, ignoreDeadTerminal, terminalHungUp } from './terminal.js';

export interface SupervisorOptions {
  /** The worker's command line: `['node', 'app.js', ...]`. */
  command: string[];
  /** Listeners to bind (socket-activated fds are taken as well). */
  listeners: ListenerSpec[];
  /** The control socket `graceful-restart reload | status | stop` talk to. */
  controlPath: string;
  /** The supervisor's own pid, written once. */
  pidFile?: string;
  /** How long a worker may take to say ready. Default 30000 ms. */
  readyTimeoutMs?: number;
  /**
   * After a reload, how long the old worker keeps what it needs to serve again: if the new one
   * dies meanwhile, the old one serves on and the reload fails. 0 turns it off. Default:
   * GRACEFUL_RESTART_PROBATION_MS, else 2000 ms.
   */
  probationMs?: number;
  /** Consecutive failed worker starts before the supervisor gives up. Default 10. */
  maxRestarts?: number;
  logger?: Logger | false;
  /**
   * The workers' directory, followed anew at every start (a release directory's `current`).
   * Default: GRACEFUL_RESTART_CWD, else the directory the supervisor was started from as `$PWD`
   * names it, else its physical working directory.
   */
  cwd?: string;
  /** The workers' environment. Default: the one the supervisor was started with. */
  env?: NodeJS.ProcessEnv;
}

/** Exit codes of `graceful-restart run`. */
export const SupervisorExitCodes = {
  /** Stopped, and every worker drained cleanly. */
  CLEAN: 0,
  /** A worker's drain was cut at its deadline, or startup failed (bind, control socket). */
  FAILED: 1,
  /** Bad command line. */
  USAGE: 2,
  /** Workers kept failing: gave up after `maxRestarts` consecutive failed starts. */
  GAVE_UP: 3,
} as const;

/**
 * Delay before the n-th consecutive restart of a failed worker (n from 0): 100 ms doubling to
 * 10 s. A worker that served for DEFAULTS.stableAfterMs before it died starts the count afresh.
 */
export function backoffMs(n: number): number {
  return Math.min(DEFAULTS.backoffBaseMs * 2 ** n, DEFAULTS.backoffMaxMs);
}

interface Worker {
  pid: number;
  /** The directory it started in (where `current` pointed then is its release). */
  cwd: string;
  child: ChildProcess;
  channel: LineChannel<WorkerMessage, SupervisorMessage>;
  readyAt: number;
  role: WorkerRole;
  exited: Promise<number | null>;
  /** It said it drains on purpose: its exit is no crash. */
  leaving: boolean;
}

/**
 * The stable-PID supervisor (`graceful-restart run`): holds the listeners for its whole life,
 * runs the app as a worker with them, replaces the worker on reload (new one ready first, then
 * the old one drains) and after a crash (with backoff), forwards stop signals and reaps workers.
 * Its state table (supervisor-state.ts) decides every move.
 */
export class Supervisor {
  private currentState: SupervisorState = 'starting';
  private readonly log: Logger;
  private readonly notifier: SystemdNotifier | undefined;
  private readonly signals: SignalHandlers;
  private readonly readyTimeoutMs: number;
  private readonly probationMs: number;
  private readonly maxRestarts: number;
  private readonly listeners: ListenerSpec[];
  private held: HeldListener[] = [];
  private control: ControlServer | undefined;
  private serving: Worker | undefined;
  private readonly workers = new Set<Worker>();
  private reloadInFlight: Promise<RestartResult> | undefined;
  private readonly abortStarts = new AbortController();
  /** The loop that brings a worker up (at start, after a crash) runs once at a time. */
  private recovering = false;
  private failures = 0;
  private stopping: Promise<number> | undefined;
  private readonly startedAt = Date.now();
  private reloads = 0;
  private crashes = 0;
  private lastReload: RestartOutcome | undefined;
  /** Ends the probation under way as passed (a newer reload came). */
  private endProbation: (() => void) | undefined;

  constructor(private readonly options: SupervisorOptions) {
    refuseUnsupportedPlatform();
    if (options.command.length === 0 || !options.command[0]) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_OPTION,
        'No worker command: give it after "--", e.g. graceful-restart run --listen web=127.0.0.1:3000 -- node app.js',
      );
    }
    this.listeners = options.listeners.map((spec) => normalizeSpec(spec, 'cli'));
    this.readyTimeoutMs = options.readyTimeoutMs ?? DEFAULTS.readyTimeoutMs;
    this.probationMs = options.probationMs ?? defaultProbationMs();
    this.maxRestarts = options.maxRestarts ?? DEFAULTS.maxRestarts;
    this.log = resolveLogger(options.logger);
    this.notifier = SystemdNotifier.fromEnv(this.log);
    this.signals = new SignalHandlers(
      { restart: [...DEFAULTS.restartSignals], shutdown: [...DEFAULTS.supervisorStopSignals] },
      {
        restart: (signal) => {
          if (signal === 'SIGHUP' && terminalHungUp()) {
            // A closed terminal is no deploy: stop, as the workers do on their own.
            ignoreDeadTerminal();
            void this.stop('the terminal hung up');
            return;
          }
          this.log.info(`${signal}: reload`);
          this.reload().catch((error: GracefulRestartError) => {
            if (error.code === ErrorCodes.INVALID_STATE)
              this.log.warn(`${signal} ignored: ${error.message}`);
          });
        },
        shutdown: (signal) => void this.stop(signal),
      },
      this.log,
    );
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

  /** Binds, starts the first worker (retrying with backoff) and resolves with the exit code. */
  async run(): Promise<number> {
    this.signals.install();
    try {
      this.held = await holdListeners(this.listeners, this.log);
      this.control = await ControlServer.open(this.options.controlPath, {
        reload: () => this.reload(),
        status: () => this.status(),
        stop: () => void this.stop('control'),
      });
      if (this.options.pidFile) await writePidFile(this.options.pidFile, process.pid);
    } catch (error) {
      this.log.error((error as Error).message);
      await this.release();
      this.signals.uninstall();
      return SupervisorExitCodes.FAILED;
    }
    this.log.info(
      `supervisor pid ${process.pid}: control socket ${this.options.controlPath}; starting the worker`,
    );
    const stopped = new Promise<number>((resolve) => {
      this.onStopped = resolve;
    });
    void this.bringUpWorker();
    return stopped;
  }

  private onStopped: (code: number) => void = () => undefined;

  /** Starts a worker, waits for ready, then drains the serving one. Concurrent calls share one. */
  reload(): Promise<RestartResult> {
    const outcome = this.apply('reload');
    if (outcome.type === 'refuse' || !this.serving) {
      const reason = outcome.type === 'refuse' ? outcome.reason : 'no worker is serving';
      return Promise.reject(
        new GracefulRestartError(ErrorCodes.INVALID_STATE, `Cannot reload: ${reason}.`),
      );
    }
    if (outcome.type === 'join' && this.reloadInFlight) return this.reloadInFlight;
    if (outcome.type === 'queue') {
      this.endProbation?.();
      const previous = this.reloadInFlight ?? Promise.resolve();
      return previous.then(
        () => this.reload(),
        () => this.reload(),
      );
    }
    const attempt = this.runReload(this.serving).finally(() => {
      this.reloadInFlight = undefined;
    });
    this.reloadInFlight = attempt;
    return attempt;
  }

  private async runReload(old: Worker): Promise<RestartResult> {
    const started = performance.now();
    await this.notifier?.reloading();
    this.log.info(
      `reload: starting a worker to replace pid ${old.pid} in ${nextDirectory(this.options.cwd)}: ${this.commandLine}`,
    );
    // The serving worker takes what a rollback needs while the new one starts.
    if (this.probationMs > 0) old.channel.send({ type: 'prepare' });
    let next: Worker;
    try {
      next = await this.startWorker();
    } catch (cause) {
      const error = toGracefulError(cause, 'Reload failed');
      this.lastReload = { ok: false, error: errorToWire(error) };
      this.log.error(`reload failed, pid ${old.pid} keeps serving: ${error.message}`, {
        event: 'reload-failed',
        code: error.code,
        oldPid: old.pid,
      });
      old.channel.send({ type: 'restart-failed', ...errorToWire(error) });
      await this.notifier?.restartFailed(error.message);
      this.apply('reload-failed');
      // The serving worker died meanwhile: bring one back.
      if (needsWorker(this.currentState)) void this.bringUpWorker();
      throw error;
    }
    const result = {
      oldPid: old.pid,
      newPid: next.pid,
      durationMs: Math.round(performance.now() - started),
      cwd: next.cwd,
      command: this.commandLine,
    };
    if (!this.promote(next, old, result)) return result;
    // Counted when the new worker serves; a rollback takes it back.
    this.reloads += 1;
    this.log.info(
      `reload: pid ${next.pid} serves after ${result.durationMs} ms; pid ${old.pid} drains` +
        (this.probationMs > 0 ? ` and holds on through a ${this.probationMs} ms probation` : ''),
      { event: 'reload', oldPid: old.pid, newPid: next.pid, durationMs: result.durationMs },
    );
    const error = this.probationMs > 0 ? await this.probation(next) : undefined;
    this.endProbation = undefined;
    if (error) {
      this.rollBack(old, error);
      throw error;
    }
    this.apply('probation-passed');
    // However the probation ended, the old worker learns that it may go.
    if (this.workers.has(old) && old.role === 'draining') {
      old.channel.send({ type: 'probation-passed' });
    }
    this.lastReload = { ok: true, result };
    // The new worker left on purpose during its probation: bring a worker up, as after a crash.
    if (needsWorker(this.currentState)) void this.bringUpWorker();
    return result;
  }

  /**
   * A new worker's probation: undefined once it passes (or the worker leaves on purpose), the
   * typed error when the worker dies first.
   */
  private probation(next: Worker): Promise<GracefulRestartError | undefined> {
    const readyAt = performance.now();
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), this.probationMs);
      // A newer reload ends the probation early.
      this.endProbation = () => {
        clearTimeout(timer);
        resolve(undefined);
      };
      void next.exited.then(() => {
        clearTimeout(timer);
        if (next.leaving) return resolve(undefined);
        const { exitCode, signalCode } = next.child;
        resolve(
          new GracefulRestartError(
            ErrorCodes.ROLLED_BACK,
            `The new worker (pid ${next.pid}) died ${Math.round(performance.now() - readyAt)} ms after it was ready (${
              signalCode ? `signal ${signalCode}` : `exit code ${exitCode}`
            }), within its ${this.probationMs} ms probation. Its own output above says why.`,
            { exitCode, signal: signalCode },
          ),
        );
      });
    });
  }

  /** The new worker died on probation: the old one serves again, or, if it is gone, recovery. */
  private rollBack(old: Worker, error: GracefulRestartError): void {
    this.lastReload = { ok: false, error: errorToWire(error) };
    this.reloads -= 1;
    if (this.currentState !== 'probation') return;
    if (!this.workers.has(old)) {
      this.log.error(`reload failed and pid ${old.pid} is gone too: ${error.message}`);
      this.serving = undefined;
      this.crashes += 1;
      this.apply('worker-died');
      void this.bringUpWorker();
      return;
    }
    this.apply('rolled-back');
    this.serving = old;
    old.role = 'serving';
    // It said it leaves when it began to drain; serving again, its exit would be a crash.
    old.leaving = false;
    old.channel.send({ type: 'rollback', ...errorToWire(error) });
    void this.notifier?.restartFailed(error.message);
    this.log.error(`rollback: pid ${old.pid} serves again. ${error.message}`, {
      event: 'rollback',
      code: error.code,
      oldPid: old.pid,
    });
  }

  /**
   * `next` serves from now on; the worker it replaces (if still alive) is told to drain. False
   * when a stop came meanwhile.
   */
  private promote(next: Worker, old?: Worker, result?: RestartResult): boolean {
    if (this.apply('worker-ready').type !== 'move') {
      // Stopping meanwhile: the new worker goes with the others (runStop waits for it).
      if (next.role !== 'stopping') {
        next.role = 'stopping';
        next.channel.send({ type: 'shutdown' });
      }
      return false;
    }
    this.serving = next;
    void this.notifier?.ready(process.pid, false);
    if (old && result && this.workers.has(old)) {
      old.role = 'draining';
      old.channel.send({ type: 'handover', result, probationMs: this.probationMs });
      void old.exited.then(() => next.channel.send({ type: 'predecessor-exited' }));
    } else {
      next.channel.send({ type: 'predecessor-exited' });
    }
    if (result) next.channel.send({ type: 'took-over', result });
    return true;
  }

  /** Brings a worker up (at start, after a crash) with backoff; gives up after maxRestarts. */
  private async bringUpWorker(): Promise<void> {
    if (this.recovering) return;
    this.recovering = true;
    let first = this.currentState === 'starting' && this.failures === 0;
    while (needsWorker(this.currentState)) {
      if (!first && this.failures >= this.maxRestarts) {
        this.log.error(
          `giving up: the worker failed and ${this.failures} restarts in a row failed too (see above); stopping with exit code ${SupervisorExitCodes.GAVE_UP}`,
        );
        this.recovering = false;
        void this.stop('gave up', SupervisorExitCodes.GAVE_UP);
        return;
      }
      if (!first) {
        const delay = backoffMs(this.failures);
        this.log.warn(
          `starting a worker in ${delay} ms (attempt ${this.failures + 1} of ${this.maxRestarts})`,
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
        this.failures += 1;
        // A reload may have brought a worker meanwhile, or a stop come.
        if (!needsWorker(this.currentState)) break;
      }
      first = false;
      try {
        const worker = await this.startWorker();
        this.promote(worker);
        this.log.info(`worker pid ${worker.pid} serves (in ${worker.cwd}: ${this.commandLine})`);
      } catch (error) {
        this.log.error(`worker start failed: ${(error as Error).message}`);
      }
    }
    this.recovering = false;
  }

  /** The workers' command line, as it reads in logs and status. */
  private get commandLine(): string {
    const [execPath, ...args] = this.options.command as [string, ...string[]];
    return describeCommand(execPath, args);
  }

  private async startWorker(): Promise<Worker> {
    const [execPath, ...args] = this.options.command as [string, ...string[]];
    // Resolved at every start, so that a swapped release symlink is followed; $PWD tells the
    // worker the same logical directory.
    const cwd = nextDirectory(this.options.cwd);
    const env: NodeJS.ProcessEnv = { ...(this.options.env ?? startEnvironment()), PWD: cwd };
    // systemd hears from the supervisor only; socket activation was taken by it.
    delete env['NOTIFY_SOCKET'];
    const successor = await startSuccessor({
      command: { execPath, args, env, cwd },
      listeners: this.held.map((h) => ({ listener: h.entry, fd: h.fd })),
      readyTimeoutMs: this.readyTimeoutMs,
      signal: this.abortStarts.signal,
      supervised: true,
      wording: {
        meanwhile: this.serving
          ? `worker pid ${this.serving.pid} keeps serving`
          : 'no worker serves yet: connections wait in the listen backlog while the supervisor retries',
        readyTimeoutKnob: 'graceful-restart run --ready-timeout',
      },
    });
    return this.track(successor, cwd);
  }

  private track(successor: Successor, cwd: string): Worker {
    const { child, pid } = successor;
    const worker: Worker = {
      pid,
      cwd,
      child,
      channel: new LineChannel(successor.channel),
      readyAt: Date.now(),
      role: 'serving',
      exited: new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
        else child.once('exit', (code) => resolve(code));
      }),
      leaving: false,
    };
    this.workers.add(worker);
    worker.channel.on('message', (message) => {
      if (message.type === 'restart') this.restartRequestedBy(worker);
      else if (message.type === 'leaving') worker.leaving = true;
    });
    void worker.exited.then(() => this.exited(worker));
    return worker;
  }

  /** A worker's own restart (its SIGHUP, its admin route): the supervisor carries it out. */
  private restartRequestedBy(worker: Worker): void {
    if (worker !== this.serving) {
      worker.channel.send({
        type: 'restart-failed',
        code: ErrorCodes.INVALID_STATE,
        message: 'This worker no longer serves; the supervisor restarts only the serving worker.',
      });
      return;
    }
    this.reload().catch(() => undefined); // the outcome reaches the worker over its channel
  }

  private exited(worker: Worker): void {
    this.workers.delete(worker);
    worker.channel.close();
    const { exitCode, signalCode } = worker.child;
    const how = signalCode ? `signal ${signalCode}` : `exit code ${exitCode}`;
    if (worker !== this.serving) {
      this.log.info(`worker pid ${worker.pid} exited (${how})`);
      return;
    }
    // A new worker that dies on probation: the reload rolls back (see runReload). One that
    // left on purpose is replaced as after a crash.
    if (this.currentState === 'probation' && !worker.leaving) return;
    this.serving = undefined;
    if (this.apply('worker-died').type !== 'move' || this.currentState !== 'recovering') {
      this.log.info(`worker pid ${worker.pid} exited (${how})`);
      return;
    }
    this.crashes += 1;
    if (Date.now() - worker.readyAt >= DEFAULTS.stableAfterMs) this.failures = 0;
    this.log.error(
      `worker pid ${worker.pid} died while serving (${how}); connections wait in the listen backlog`,
      { event: 'worker-died', pid: worker.pid, exitCode, signal: signalCode },
    );
    // A reload under way brings the next worker; if it fails, it brings one up itself.
    if (!this.reloadInFlight) void this.bringUpWorker();
  }

  status(): SupervisorStatus {
    return {
      supervisorPid: process.pid,
      uptimeMs: Date.now() - this.startedAt,
      state: this.currentState,
      workers: [...this.workers].map((w) => ({ pid: w.pid, role: w.role, cwd: w.cwd })),
      servingPid: this.serving?.pid ?? null,
      cwd: nextDirectory(this.options.cwd),
      command: this.commandLine,
      listeners: this.held.map((h) => ({
        name: h.entry.name,
        address: describeHandedOver(h.entry),
      })),
      reloads: this.reloads,
      crashes: this.crashes,
      consecutiveFailures: this.failures,
      lastReload: this.lastReload ?? null,
    };
  }

  /**
   * Tells every worker to drain and exit, then releases the listeners. A second stop signal is
   * passed on to the workers, which then exit at once.
   */
  stop(reason: string, exitCode?: number): Promise<number> {
    const outcome = this.apply('stop');
    if (outcome.type === 'force' && reason.startsWith('SIG')) {
      this.log.warn(`${reason} again: passing it to the workers`);
      for (const worker of this.workers) worker.child.kill(reason as NodeJS.Signals);
    }
    this.stopping ??= this.runStop(reason, exitCode);
    return this.stopping;
  }

  private async runStop(reason: string, exitCode: number | undefined): Promise<number> {
    this.log.info(
      `stopping (${reason}): draining ${this.workers.size} worker(s)` +
        (reason === 'SIGINT' && atKeyboard() ? '; press Ctrl-C again to exit now' : ''),
    );
    await this.notifier?.stopping();
    this.abortStarts.abort();
    const workers = [...this.workers];
    for (const worker of workers) {
      if (worker.role === 'stopping') continue;
      worker.role = 'stopping';
      // A message, not SIGTERM: a worker that got the same stop signal from the process
      // group (systemd, Ctrl-C) takes both as one stop and drains, instead of forcing.
      if (worker.channel.isClosed) worker.child.kill('SIGTERM');
      else worker.channel.send({ type: 'shutdown' });
    }
    const codes = await Promise.all(workers.map((w) => w.exited));
    // An aborted start settles once its child is stopped; one that said ready just before the
    // stop was told to stop in promote().
    await this.reloadInFlight?.catch(() => undefined);
    await Promise.all([...this.workers].map((w) => w.exited));
    await this.release();
    const code =
      exitCode ??
      (codes.every((c) => c === 0) ? SupervisorExitCodes.CLEAN : SupervisorExitCodes.FAILED);
    this.apply('stopped');
    this.log.info(`stopped (exit code ${code})`);
    this.signals.uninstall();
    this.onStopped(code);
    return code;
  }

  private async release(): Promise<void> {
    for (const h of this.held) h.close();
    this.held = [];
    await this.control?.close();
    if (this.options.pidFile) await removePidFile(this.options.pidFile, process.pid);
    await this.notifier?.flush();
  }
}
