import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeCommand, nextDirectory } from '../command.js';
import { DEFAULTS } from '../defaults.js';
import { startEnvironment } from '../environment.js';
import { ErrorCodes, GracefulRestartError, toGracefulError } from '../errors.js';
import { LineChannel } from '../handover/channel.js';
import type { SupervisorMessage, WorkerLoad, WorkerMessage } from '../handover/messages.js';
import { errorToWire, type RestartOutcome, type RestartResult } from '../handover/outcome.js';
import { type Successor, startSuccessor } from '../handover/spawn.js';
import { type Logger, resolveLogger } from '../logger.js';
import { describeValue } from '../option-names.js';
import { defaultProbationMs } from '../options.js';
import { removePidFile, writePidFile } from '../pid-file.js';
import { refuseUnsupportedPlatform } from '../platform.js';
import { SignalHandlers } from '../signals.js';
import { type HeldListener, holdListeners } from '../sockets/held.js';
import { describeHandedOver, type ListenerSpec, normalizeSpec } from '../sockets/spec.js';
import { SystemdNotifier } from '../systemd.js';
import { atKeyboard, ignoreDeadTerminal, terminalHungUp } from '../terminal.js';
import { ControlServer } from './control.js';
import type { SupervisorStatus } from './control-protocol.js';
import {
  needsWorker,
  type SupervisorEvent,
  type SupervisorOutcome,
  type SupervisorState,
  supervisorTransition,
  type WorkerRole,
} from './state.js';

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
  /**
   * How many workers serve side by side, all accepting on the same listeners. A reload
   * replaces them all; a crash replaces only the one that died. Default 1.
   */
  workers?: number;
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
  /** Its place in the set of `workers` (0 to N-1); a replacement takes the same place. */
  slot: number;
  /** The reload that started it (0: the first start); a crash's replacement joins its set. */
  generation: number;
  /** The directory it started in (where `current` pointed then is its release). */
  cwd: string;
  child: ChildProcess;
  channel: LineChannel<WorkerMessage, SupervisorMessage>;
  readyAt: number;
  role: WorkerRole;
  exited: Promise<number | null>;
  /** It said it drains on purpose: its exit is no crash. */
  leaving: boolean;
  /** What it last reported carrying. */
  load: WorkerLoad | undefined;
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
  private readonly workerCount: number;
  /** The serving set, by slot; an empty slot is being refilled (after a crash). */
  private slots: (Worker | undefined)[];
  private readonly workers = new Set<Worker>();
  private generation = 0;
  private reloadInFlight: Promise<RestartResult> | undefined;
  private readonly abortStarts = new AbortController();
  /** The loop that fills empty slots (at start, after a crash) runs once at a time. */
  private recovering: Promise<void> | undefined;
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
    this.workerCount = checkWorkerCount(options.workers ?? 1);
    this.slots = new Array(this.workerCount).fill(undefined);
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
      `supervisor pid ${process.pid}: control socket ${this.options.controlPath}; starting ${
        this.workerCount === 1 ? 'the worker' : `${this.workerCount} workers`
      }`,
    );
    const stopped = new Promise<number>((resolve) => {
      this.onStopped = resolve;
    });
    this.bringUpWorkers();
    return stopped;
  }

  private onStopped: (code: number) => void = () => undefined;

  /** The workers that serve now, by slot. */
  private get serving(): Worker[] {
    return this.slots.filter((w): w is Worker => w !== undefined);
  }

  /**
   * Starts a new set of workers, waits until every one is ready, then drains the serving set.
   * Concurrent calls share one.
   */
  reload(): Promise<RestartResult> {
    const outcome = this.apply('reload');
    if (outcome.type === 'refuse' || this.serving.length === 0) {
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

  private async runReload(old: Worker[]): Promise<RestartResult> {
    const started = performance.now();
    await this.notifier?.reloading();
    this.generation += 1;
    this.log.info(
      `reload: starting ${this.workerCount === 1 ? 'a worker' : `${this.workerCount} workers`} to replace ${pids(old)} in ${nextDirectory(this.options.cwd)}: ${this.commandLine}`,
    );
    // The serving workers take what a rollback needs while the new ones start.
    if (this.probationMs > 0) for (const w of old) w.channel.send({ type: 'prepare' });
    let next: Worker[];
    try {
      next = await this.startSet(this.slots.map((_, slot) => slot));
    } catch (cause) {
      const error = toGracefulError(cause, 'Reload failed');
      this.lastReload = { ok: false, error: errorToWire(error) };
      this.log.error(
        `reload failed, ${pids(old)} keep${old.length === 1 ? 's' : ''} serving: ${error.message}`,
        {
          event: 'reload-failed',
          code: error.code,
          oldPid: old[0]?.pid,
          oldPids: old.map((w) => w.pid),
        },
      );
      for (const w of old) w.channel.send({ type: 'restart-failed', ...errorToWire(error) });
      await this.notifier?.restartFailed(error.message);
      this.apply('reload-failed');
      // A serving worker died meanwhile: bring one back.
      if (needsWorker(this.currentState)) this.bringUpWorkers();
      throw error;
    }
    const durationMs = Math.round(performance.now() - started);
    const resultFor = (slot: number): RestartResult => ({
      oldPid: (old.find((w) => w.slot === slot) ?? old[0] ?? (next[slot] as Worker)).pid,
      newPid: (next[slot] as Worker).pid,
      durationMs,
      cwd: (next[slot] as Worker).cwd,
      command: this.commandLine,
    });
    const result: RestartResult = {
      ...resultFor(0),
      ...(this.workerCount > 1
        ? { oldPids: old.map((w) => w.pid), newPids: next.map((w) => w.pid) }
        : {}),
    };
    if (!this.promote(next, old, resultFor)) return result;
    // Counted when the new set serves; a rollback takes it back.
    this.reloads += 1;
    this.log.info(
      `reload: ${pids(next)} serve${next.length === 1 ? 's' : ''} after ${durationMs} ms; ${pids(old)} drain${old.length === 1 ? 's' : ''}` +
        (this.probationMs > 0 ? ` and hold on through a ${this.probationMs} ms probation` : ''),
      {
        event: 'reload',
        oldPid: result.oldPid,
        newPid: result.newPid,
        oldPids: old.map((w) => w.pid),
        newPids: next.map((w) => w.pid),
        durationMs,
      },
    );
    const error = this.probationMs > 0 ? await this.probation(next) : undefined;
    this.endProbation = undefined;
    if (error) {
      // Not rolled back (a stop, or the set was already replaced after a crash): the old
      // workers still wait for a verdict, and may go.
      if (!this.rollBack(old, next, error)) this.letGo(old);
      throw error;
    }
    this.apply('probation-passed');
    this.letGo(old);
    this.lastReload = { ok: true, result };
    // A new worker left on purpose during its probation: refill its slot, as after a crash.
    if (needsWorker(this.currentState)) this.bringUpWorkers();
    return result;
  }

  /**
   * A new set's probation: undefined once it passes (or a new worker leaves on purpose), the
   * typed error when one of the new workers dies first.
   */
  private probation(next: Worker[]): Promise<GracefulRestartError | undefined> {
    const readyAt = performance.now();
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), this.probationMs);
      // A newer reload ends the probation early.
      this.endProbation = () => {
        clearTimeout(timer);
        resolve(undefined);
      };
      for (const worker of next) {
        void worker.exited.then(() => {
          clearTimeout(timer);
          if (worker.leaving) return resolve(undefined);
          const { exitCode, signalCode } = worker.child;
          resolve(
            new GracefulRestartError(
              ErrorCodes.ROLLED_BACK,
              `The new worker (pid ${worker.pid}) died ${Math.round(performance.now() - readyAt)} ms after it was ready (${
                signalCode ? `signal ${signalCode}` : `exit code ${exitCode}`
              }), within its ${this.probationMs} ms probation. Its own output above says why.`,
              { exitCode, signal: signalCode },
            ),
          );
        });
      }
    });
  }

  /** However a probation ended, the old workers that drain learn that they may go. */
  private letGo(old: Worker[]): void {
    for (const w of old) {
      if (this.workers.has(w) && w.role === 'draining')
        w.channel.send({ type: 'probation-passed' });
    }
  }

  /**
   * A new worker died on probation: the whole new set goes and the old workers serve again; the
   * slots of old workers that are gone meanwhile are refilled as after a crash. False when
   * there was no probation to roll back (a stop came, or a crash already moved on).
   */
  private rollBack(old: Worker[], next: Worker[], error: GracefulRestartError): boolean {
    this.lastReload = { ok: false, error: errorToWire(error) };
    this.reloads -= 1;
    if (this.currentState !== 'probation') return false;
    this.slots = new Array(this.workerCount).fill(undefined);
    this.stopWorkers(next);
    const alive = old.filter((w) => this.workers.has(w));
    if (alive.length === 0) {
      this.log.error(
        `reload failed and ${pids(old)} ${old.length === 1 ? 'is' : 'are'} gone too: ${error.message}`,
      );
      this.crashes += 1;
      this.apply('worker-died');
      this.bringUpWorkers();
      return true;
    }
    this.apply('rolled-back');
    for (const w of alive) {
      this.slots[w.slot] = w;
      w.role = 'serving';
      // It said it leaves when it began to drain; serving again, its exit would be a crash.
      w.leaving = false;
      w.channel.send({ type: 'rollback', ...errorToWire(error) });
    }
    void this.notifier?.restartFailed(error.message);
    this.log.error(
      `rollback: ${pids(alive)} serve${alive.length === 1 ? 's' : ''} again. ${error.message}`,
      {
        event: 'rollback',
        code: error.code,
        oldPid: alive[0]?.pid,
        oldPids: alive.map((w) => w.pid),
      },
    );
    if (alive.length < old.length) {
      this.crashes += old.length - alive.length;
      this.apply('worker-died');
      this.bringUpWorkers();
    }
    return true;
  }

  /** Tells workers to drain and exit (runStop, or whoever stopped them, waits for the exit). */
  private stopWorkers(workers: Worker[]): void {
    for (const worker of workers) {
      if (!this.workers.has(worker) || worker.role === 'stopping') continue;
      worker.role = 'stopping';
      // A message, not SIGTERM: a worker that got the same stop signal from the process
      // group (systemd, Ctrl-C) takes both as one stop and drains, instead of forcing.
      if (worker.channel.isClosed) worker.child.kill('SIGTERM');
      else worker.channel.send({ type: 'shutdown' });
    }
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
    if (this.currentState === 'stopping' || this.currentState === 'stopped') {
      // Stopping meanwhile: the new workers go with the others (runStop waits for them).
      this.stopWorkers(next);
      return false;
    }
    for (const worker of next) this.slots[worker.slot] = worker;
    // The set is complete: the state moves on (a partial recovery stays where it is).
    if (this.slots.every((w) => w !== undefined) && this.apply('worker-ready').type === 'move') {
      void this.notifier?.ready(process.pid, false);
    }
    for (const worker of next) {
      const predecessor = old.find((w) => w.slot === worker.slot);
      if (predecessor && this.workers.has(predecessor)) {
        void predecessor.exited.then(() => worker.channel.send({ type: 'predecessor-exited' }));
      } else {
        worker.channel.send({ type: 'predecessor-exited' });
      }
      if (resultFor) worker.channel.send({ type: 'took-over', result: resultFor(worker.slot) });
    }
    if (resultFor) {
      for (const w of old) {
        if (!this.workers.has(w)) continue;
        w.role = 'draining';
        w.channel.send({
          type: 'handover',
          result: resultFor(w.slot),
          probationMs: this.probationMs,
        });
      }
    }
    return true;
  }

  /**
   * Fills the empty slots (at start, after a crash) with backoff; gives up after maxRestarts.
   * One loop at a time.
   */
  private bringUpWorkers(): void {
    this.recovering ??= this.fillSlots().finally(() => {
      this.recovering = undefined;
    });
  }

  private async fillSlots(): Promise<void> {
    let first = this.currentState === 'starting' && this.failures === 0;
    while (needsWorker(this.currentState)) {
      if (!first && this.failures >= this.maxRestarts) {
        this.log.error(
          `giving up: the worker failed and ${this.failures} restarts in a row failed too (see above); stopping with exit code ${SupervisorExitCodes.GAVE_UP}`,
        );
        void this.stop('gave up', SupervisorExitCodes.GAVE_UP);
        return;
      }
      if (!first) {
        const delay = backoffMs(this.failures);
        this.log.warn(
          `starting a worker in ${delay} ms (attempt ${this.failures + 1} of ${this.maxRestarts})`,
        );
        // A stop cuts the wait short (it waits for this loop to end).
        await sleep(delay, undefined, { signal: this.abortStarts.signal }).catch(() => undefined);
        this.failures += 1;
        // A reload may have brought workers meanwhile, or a stop come.
        if (!needsWorker(this.currentState)) break;
      }
      first = false;
      const empty = this.slots.flatMap((w, slot) => (w ? [] : [slot]));
      if (empty.length === 0) {
        this.promote([]);
        break;
      }
      // Each worker takes its slot once ready: it accepts from then on, so status says so.
      await Promise.allSettled(
        empty.map((slot) =>
          this.startWorker(slot).then(
            (worker) => {
              if (this.promote([worker])) {
                this.log.info(
                  `worker pid ${worker.pid} serves (in ${worker.cwd}: ${this.commandLine})`,
                );
              }
            },
            (error: Error) => this.log.error(`worker start failed: ${error.message}`),
          ),
        ),
      );
    }
  }

  /** The workers' command line, as it reads in logs and status. */
  private get commandLine(): string {
    const [execPath, ...args] = this.options.command as [string, ...string[]];
    return describeCommand(execPath, args);
  }

  /**
   * Starts one worker per slot, side by side, and resolves once every one is ready. When one
   * fails, the starts under way are aborted and the ones already ready are stopped.
   */
  private async startSet(slots: number[]): Promise<Worker[]> {
    const failed = new AbortController();
    // The first failure says why; the starts still under way are aborted because of it.
    let firstFailure: { error: unknown } | undefined;
    const started = await Promise.allSettled(
      slots.map((slot) =>
        this.startWorker(slot, failed.signal).catch((error: unknown) => {
          firstFailure ??= { error };
          failed.abort();
          throw error;
        }),
      ),
    );
    const ready = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    if (!firstFailure) return ready;
    this.stopWorkers(ready);
    throw firstFailure.error;
  }

  private async startWorker(slot: number, abort?: AbortSignal): Promise<Worker> {
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
      signal: abort ? AbortSignal.any([this.abortStarts.signal, abort]) : this.abortStarts.signal,
      supervised: true,
      workers: this.workerCount,
      wording: {
        meanwhile:
          this.serving.length > 0
            ? `${pids(this.serving)} keep${this.serving.length === 1 ? 's' : ''} serving`
            : 'no worker serves yet: connections wait in the listen backlog while the supervisor retries',
        readyTimeoutKnob: 'graceful-restart run --ready-timeout',
      },
    });
    return this.track(successor, cwd, slot);
  }

  private track(successor: Successor, cwd: string, slot: number): Worker {
    const { child, pid } = successor;
    const worker: Worker = {
      pid,
      slot,
      generation: this.generation,
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
      load: undefined,
    };
    this.workers.add(worker);
    worker.channel.on('message', (message) => {
      if (message.type === 'restart') this.restartRequestedBy(worker);
      else if (message.type === 'leaving') worker.leaving = true;
      else if (message.type === 'load') {
        worker.load = { connections: message.connections, requests: message.requests };
      } else if (message.type === 'hand-off') {
        const { data } = message;
        this.tellSlotSuccessor(worker, {
          type: 'handed-off',
          ...(data === undefined ? {} : { data }),
        });
      } else if (message.type === 'drained') {
        this.tellSlotSuccessor(worker, { type: 'predecessor-drained', report: message.report });
      }
    });
    void worker.exited.then(() => this.exited(worker));
    return worker;
  }

  /** Passes a replaced worker's last words on to the worker that now holds its slot. */
  private tellSlotSuccessor(replaced: Worker, message: SupervisorMessage): void {
    const successor = this.slots[replaced.slot];
    if (successor && successor !== replaced) successor.channel.send(message);
  }

  /**
   * A worker's own restart (its SIGHUP, its admin route): the supervisor carries it out, for the
   * whole set.
   */
  private restartRequestedBy(worker: Worker): void {
    if (!this.slots.includes(worker)) {
      worker.channel.send({
        type: 'restart-failed',
        code: ErrorCodes.INVALID_STATE,
        message: 'This worker no longer serves; the supervisor restarts only the serving workers.',
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
    if (this.slots[worker.slot] !== worker) {
      this.log.info(`worker pid ${worker.pid} exited (${how})`);
      return;
    }
    // A new worker that dies on probation: the reload rolls back (see runReload). One that
    // left on purpose is replaced as after a crash.
    if (this.currentState === 'probation' && !worker.leaving) return;
    this.slots[worker.slot] = undefined;
    if (this.apply('worker-died').type !== 'move' || !needsWorker(this.currentState)) {
      this.log.info(`worker pid ${worker.pid} exited (${how})`);
      return;
    }
    this.crashes += 1;
    if (Date.now() - worker.readyAt >= DEFAULTS.stableAfterMs) this.failures = 0;
    const others = this.serving;
    this.log.error(
      `worker pid ${worker.pid} died while serving (${how}); ${
        others.length > 0
          ? `${pids(others)} serve${others.length === 1 ? 's' : ''} on`
          : 'connections wait in the listen backlog'
      }`,
      { event: 'worker-died', pid: worker.pid, exitCode, signal: signalCode },
    );
    // A reload under way brings the next set; if it fails, it brings workers up itself.
    if (!this.reloadInFlight) this.bringUpWorkers();
  }

  status(): SupervisorStatus {
    return {
      supervisorPid: process.pid,
      uptimeMs: Date.now() - this.startedAt,
      state: this.currentState,
      workers: [...this.workers].map((w) => ({
        pid: w.pid,
        slot: w.slot,
        generation: w.generation,
        role: w.role,
        since: new Date(w.readyAt).toISOString(),
        cwd: w.cwd,
        connections: w.load?.connections ?? null,
        requests: w.load?.requests ?? null,
      })),
      servingPid: this.serving[0]?.pid ?? null,
      servingPids: this.serving.map((w) => w.pid),
      workerCount: this.workerCount,
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
    this.stopWorkers(workers);
    const codes = await Promise.all(workers.map((w) => w.exited));
    // An aborted start settles once its child is stopped; one that said ready just before the
    // stop was told to stop in promote().
    await this.reloadInFlight?.catch(() => undefined);
    await this.recovering;
    codes.push(...(await Promise.all([...this.workers].map((w) => w.exited))));
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

/** `pid 12` or `pids 12, 13`, as logs name a set of workers. */
function pids(workers: Worker[]): string {
  return `${workers.length === 1 ? 'pid' : 'pids'} ${workers.map((w) => w.pid).join(', ')}`;
}

/** The number of workers: a whole number from 1 (`--workers auto` is resolved by the CLI). */
function checkWorkerCount(count: number): number {
  if (!Number.isInteger(count) || count < 1 || count > 1024) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `workers must be a whole number from 1 to 1024 (got ${describeValue(count)}); with the CLI, --workers N or --workers auto (one per available CPU).`,
    );
  }
  return count;
}
