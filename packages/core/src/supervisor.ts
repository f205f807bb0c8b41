import type { ChildProcess } from 'node:child_process';
import { LineChannel, type SupervisorMessage, type WorkerMessage } from './channel.js';
import { ControlServer, type SupervisorStatus } from './control.js';
import { ErrorCodes, GracefulRestartError } from './errors.js';
import type { RestartResult } from './graceful.js';
import { type Successor, startSuccessor } from './handover.js';
import { type HeldListener, holdListeners } from './held-listeners.js';
import { describeManifest, type ListenerSpec, validateSpec } from './listeners.js';
import { type Logger, resolveLogger } from './logger.js';
import { removePidFile, writePidFile } from './pid-file.js';
import { SystemdNotifier } from './systemd.js';

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
  /** Consecutive failed worker starts before the supervisor gives up. Default 10. */
  maxRestarts?: number;
  logger?: Logger | false;
  /** Working directory and environment of the workers. Default: the supervisor's. */
  cwd?: string;
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
 * 10 s. A worker that served for STABLE_AFTER_MS before it died starts the count afresh.
 */
export function backoffMs(n: number): number {
  return Math.min(100 * 2 ** n, 10_000);
}
const STABLE_AFTER_MS = 10_000;

interface Worker {
  pid: number;
  child: ChildProcess;
  channel: LineChannel<WorkerMessage, SupervisorMessage>;
  readyAt: number;
  /** serving: gets new connections' work; draining: handed over, finishing; stopping: told to exit. */
  role: 'serving' | 'draining' | 'stopping';
  exited: Promise<number | null>;
}

/**
 * The stable-PID supervisor (`graceful-restart run`): holds the listeners for its whole life,
 * runs the app as a worker with them, replaces the worker on reload (new one ready first, then
 * the old one drains) and after a crash (with backoff), forwards stop signals and reaps workers.
 */
export class Supervisor {
  private readonly log: Logger;
  private readonly notifier: SystemdNotifier | undefined;
  private held: HeldListener[] = [];
  private control: ControlServer | undefined;
  private serving: Worker | undefined;
  private readonly workers = new Set<Worker>();
  private reloadInFlight: Promise<RestartResult> | undefined;
  private readonly abortStarts = new AbortController();
  private recovering = false;
  private failures = 0;
  private stopping: Promise<number> | undefined;
  private readonly startedAt = Date.now();
  private reloads = 0;
  private crashes = 0;
  private lastReload:
    | { ok: true; result: RestartResult }
    | { ok: false; code: string; message: string }
    | undefined;
  private readonly signalHandlers: Array<[NodeJS.Signals, () => void]> = [];

  constructor(private readonly options: SupervisorOptions) {
    if (options.command.length === 0 || !options.command[0]) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_OPTION,
        'No worker command: give it after "--", e.g. graceful-restart run --listen web=127.0.0.1:3000 -- node app.js',
      );
    }
    for (const spec of options.listeners) validateSpec(spec);
    this.log = resolveLogger(options.logger);
    this.notifier = SystemdNotifier.fromEnv(this.log);
  }

  /** Binds, starts the first worker (retrying with backoff) and resolves with the exit code. */
  async run(): Promise<number> {
    this.installSignals();
    try {
      this.held = await holdListeners(this.options.listeners, this.log);
      if (this.held.length === 0) {
        throw new GracefulRestartError(
          ErrorCodes.INVALID_OPTION,
          'No listeners: give --listen name=host:port (or name=unix:/path), or start under socket activation.',
        );
      }
      this.control = await ControlServer.open(this.options.controlPath, {
        reload: () => this.reload(),
        status: () => this.status(),
        stop: () => void this.stop('control'),
      });
      if (this.options.pidFile) await writePidFile(this.options.pidFile, process.pid);
    } catch (error) {
      this.log.error((error as Error).message);
      await this.release();
      return SupervisorExitCodes.FAILED;
    }
    this.log.info(
      `supervisor pid ${process.pid}: control socket ${this.options.controlPath}; starting the worker`,
    );
    void this.recover(false);
    return new Promise<number>((resolve) => {
      this.onStopped = resolve;
    });
  }

  private onStopped: (code: number) => void = () => undefined;

  /** Starts a worker, waits for ready, then drains the serving one. Concurrent calls share one. */
  reload(): Promise<RestartResult> {
    if (this.stopping) {
      return Promise.reject(
        new GracefulRestartError(
          ErrorCodes.INVALID_STATE,
          'Cannot reload: the supervisor is stopping.',
        ),
      );
    }
    if (!this.serving) {
      return Promise.reject(
        new GracefulRestartError(
          ErrorCodes.INVALID_STATE,
          'Cannot reload: no worker is serving yet (starting, or restarting after a crash).',
        ),
      );
    }
    if (this.reloadInFlight) return this.reloadInFlight;
    const attempt = this.runReload(this.serving).finally(() => {
      this.reloadInFlight = undefined;
    });
    this.reloadInFlight = attempt;
    return attempt;
  }

  private async runReload(old: Worker): Promise<RestartResult> {
    const started = performance.now();
    await this.notifier?.reloading();
    this.log.info(`reload: starting a worker to replace pid ${old.pid}`);
    let next: Worker;
    try {
      next = await this.startWorker();
    } catch (cause) {
      const error = cause as GracefulRestartError;
      this.lastReload = { ok: false, code: error.code, message: error.message };
      this.log.error(`reload failed, pid ${old.pid} keeps serving: ${error.message}`);
      old.channel.send({
        type: 'restart-failed',
        code: error.code,
        message: error.message,
        ...(error.exitCode === undefined ? {} : { exitCode: error.exitCode }),
        ...(error.signal === undefined ? {} : { signal: error.signal }),
      });
      await this.notifier?.restartFailed(error.message);
      // The serving worker may have died meanwhile: then bring one back.
      if (!this.serving && !this.stopping) void this.recover(true);
      throw error;
    }
    const result = {
      oldPid: old.pid,
      newPid: next.pid,
      durationMs: Math.round(performance.now() - started),
    };
    this.reloads += 1;
    this.lastReload = { ok: true, result };
    this.promote(next, old, result);
    this.log.info(
      `reload: pid ${next.pid} serves after ${result.durationMs} ms; pid ${old.pid} drains`,
    );
    return result;
  }

  /** `next` serves from now on; the worker it replaces (if still alive) is told to drain. */
  private promote(next: Worker, old?: Worker, result?: RestartResult): void {
    this.serving = next;
    void this.notifier?.ready(process.pid, false);
    if (old && result && this.workers.has(old)) {
      old.role = 'draining';
      old.channel.send({ type: 'handover', result });
      void old.exited.then(() => next.channel.send({ type: 'predecessor-exited' }));
    } else {
      next.channel.send({ type: 'predecessor-exited' });
    }
  }

  /** Brings a worker up after a crash (or at start), with backoff; gives up after maxRestarts. */
  private async recover(afterCrash: boolean): Promise<void> {
    if (this.recovering) return;
    this.recovering = true;
    const max = this.options.maxRestarts ?? 10;
    let first = !afterCrash;
    while (!this.stopping && !this.serving) {
      if (!first && this.failures >= max) {
        this.log.error(
          `giving up: the worker failed and ${this.failures} restarts in a row failed too (see above); stopping with exit code ${SupervisorExitCodes.GAVE_UP}`,
        );
        this.recovering = false;
        void this.stop('gave up', SupervisorExitCodes.GAVE_UP);
        return;
      }
      if (!first) {
        const delay = backoffMs(this.failures);
        this.log.warn(`starting a worker in ${delay} ms (attempt ${this.failures + 1} of ${max})`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        this.failures += 1;
        // A reload may have brought a worker meanwhile.
        if (this.stopping || this.serving) break;
      }
      first = false;
      try {
        const worker = await this.startWorker();
        this.promote(worker);
        this.log.info(`worker pid ${worker.pid} serves`);
      } catch (error) {
        this.log.error(`worker start failed: ${(error as Error).message}`);
      }
    }
    this.recovering = false;
  }

  private async startWorker(): Promise<Worker> {
    const [execPath, ...args] = this.options.command as [string, ...string[]];
    const env = { ...(this.options.env ?? process.env) };
    // systemd hears from the supervisor only; socket activation was taken by it.
    delete env['NOTIFY_SOCKET'];
    const successor = await startSuccessor({
      command: { execPath, args, env, ...(this.options.cwd ? { cwd: this.options.cwd } : {}) },
      listeners: this.held.map((h) => ({ listener: h.entry, fd: h.fd })),
      readyTimeoutMs: this.options.readyTimeoutMs ?? 30_000,
      signal: this.abortStarts.signal,
      supervised: true,
    });
    return this.track(successor);
  }

  private track(successor: Successor): Worker {
    const { child, pid } = successor;
    const worker: Worker = {
      pid,
      child,
      channel: new LineChannel(successor.channel),
      readyAt: Date.now(),
      role: 'serving',
      exited: new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
        else child.once('exit', (code) => resolve(code));
      }),
    };
    this.workers.add(worker);
    worker.channel.on('message', (message) => {
      if (message.type === 'restart') this.restartRequestedBy(worker);
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
    if (worker !== this.serving || this.stopping) {
      this.log.info(`worker pid ${worker.pid} exited (${how})`);
      if (worker === this.serving) this.serving = undefined;
      return;
    }
    this.serving = undefined;
    this.crashes += 1;
    if (Date.now() - worker.readyAt >= STABLE_AFTER_MS) this.failures = 0;
    this.log.error(
      `worker pid ${worker.pid} died while serving (${how}); connections wait in the listen backlog`,
    );
    // A reload under way brings the next worker; if it fails, it calls recover() itself.
    if (!this.reloadInFlight) void this.recover(true);
  }

  status(): SupervisorStatus {
    return {
      supervisorPid: process.pid,
      uptimeMs: Date.now() - this.startedAt,
      state: this.stopping ? 'stopping' : this.serving ? 'serving' : 'starting',
      workers: [...this.workers].map((w) => ({ pid: w.pid, role: w.role })),
      servingPid: this.serving?.pid ?? null,
      listeners: this.held.map((h) => ({ name: h.entry.name, address: describeManifest(h.entry) })),
      reloads: this.reloads,
      crashes: this.crashes,
      consecutiveFailures: this.failures,
      lastReload: this.lastReload ?? null,
    };
  }

  /** Tells every worker to drain and exit, then releases the listeners. A second call forces. */
  stop(reason: string, exitCode?: number): Promise<number> {
    if (this.stopping) return this.stopping;
    this.stopping = this.runStop(reason, exitCode);
    return this.stopping;
  }

  private async runStop(reason: string, exitCode: number | undefined): Promise<number> {
    this.log.info(`stopping (${reason}): draining ${this.workers.size} worker(s)`);
    await this.notifier?.stopping();
    this.abortStarts.abort();
    const workers = [...this.workers];
    for (const worker of workers) {
      worker.role = 'stopping';
      worker.child.kill('SIGTERM');
    }
    const codes = await Promise.all(workers.map((w) => w.exited));
    // An aborted start settles once its child is stopped.
    await this.reloadInFlight?.catch(() => undefined);
    await this.release();
    const code =
      exitCode ??
      (codes.every((c) => c === 0) ? SupervisorExitCodes.CLEAN : SupervisorExitCodes.FAILED);
    this.log.info(`stopped (exit code ${code})`);
    this.uninstallSignals();
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

  private installSignals(): void {
    const on = (signal: NodeJS.Signals, action: () => void) => {
      process.on(signal, action);
      this.signalHandlers.push([signal, action]);
    };
    for (const signal of ['SIGHUP', 'SIGUSR2'] as const) {
      on(signal, () => {
        this.log.info(`${signal}: reload`);
        this.reload().catch((error: GracefulRestartError) => {
          if (error.code === ErrorCodes.INVALID_STATE)
            this.log.warn(`${signal} ignored: ${error.message}`);
        });
      });
    }
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) {
      on(signal, () => {
        if (!this.stopping) {
          void this.stop(signal);
          return;
        }
        // A second stop signal: passed on, so workers exit now rather than finish their drain.
        this.log.warn(`${signal} again: passing it to the workers`);
        for (const worker of this.workers) worker.child.kill(signal);
      });
    }
  }

  private uninstallSignals(): void {
    for (const [signal, action] of this.signalHandlers) process.off(signal, action);
    this.signalHandlers.length = 0;
  }
}
