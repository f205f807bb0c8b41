import { EventEmitter } from 'node:events';
import type { Server as NetServer } from 'node:net';
import { constants as osConstants } from 'node:os';
import {
  ConnectionTracker,
  type DrainOptions,
  type DrainReport,
  keepAliveHintFor,
  mergeDrainReports,
  type ServerProtocol,
} from './drain.js';
import { ErrorCodes, GracefulRestartError } from './errors.js';
import {
  currentCommand,
  PredecessorLink,
  type SuccessorCommand,
  startSuccessor,
} from './handover.js';
import { Inheritance } from './inheritance.js';
import {
  bindError,
  bindUnix,
  boundAddress,
  checkListeningFd,
  DEFAULT_LISTENER_NAME,
  describeSpec,
  isUnixSpec,
  type ListenerOrigin,
  type ListenerSpec,
  listenAsync,
  type ManifestListener,
  removeUnixPath,
  serverFd,
  setPipeName,
  validateSpec,
} from './listeners.js';
import { type Logger, resolveLogger } from './logger.js';
import { removePidFile, writePidFile } from './pid-file.js';
import { SignalHandlers, type SignalOptions } from './signals.js';
import { isShuttingDown, type State, type StateEvent, transition } from './state.js';
import { SystemdNotifier } from './systemd.js';

/** Drain options with defaults: `deadlineMs` 8000 (it also bounds the shutdown hooks), `idleGraceMs` 1500. */
export interface DrainSettings extends Partial<DrainOptions> {
  /**
   * Advertise `Keep-Alive: timeout=N` on HTTP/1.1 responses, with N chosen so that clients
   * honouring it (node's http, undici/fetch) stop reusing an idle socket before a drain would
   * close it: no request ever races an idle close. Costs those clients a new connection after
   * about a second of idleness. Default true; it applies only when the idle grace is at least
   * 1500 ms and shorter than the server's own keepAliveTimeout.
   */
  keepAliveHint?: boolean;
}

export interface GracefulOptions {
  /** How long the next generation may take to become ready. Default 30000 ms. */
  readyTimeoutMs?: number;
  drain?: DrainSettings;
  /** Signals to handle, or `false` for none. Default: SIGHUP and SIGUSR2 restart, SIGTERM and SIGINT shut down. */
  signals?: SignalOptions | false;
  /** Path of a PID file the serving generation keeps up to date. */
  pidFile?: string;
  /** The command that starts the next generation. Default: this process's own command line. */
  command?: SuccessorCommand | (() => SuccessorCommand);
  /** Exit the process once a drain is over. Default true. */
  exitProcess?: boolean;
  /** Where to log. Default: one line per event on stderr. `false` for silence. */
  logger?: Logger | false;
}

export interface RestartResult {
  oldPid: number;
  newPid: number;
  durationMs: number;
}

export interface ListenerInfo {
  name: string;
  origin: ListenerOrigin;
  /** `host:port` or `unix:/path`. */
  address: string;
  port?: number;
}

export interface GracefulEvents {
  state: [state: State, previous: State];
  restart: [result: RestartResult];
  'restart-failed': [error: GracefulRestartError];
  drained: [report: DrainReport];
}

interface OwnedListener {
  name: string;
  spec: ListenerSpec;
  server: NetServer;
  tracker: ConnectionTracker;
  origin: ListenerOrigin;
  unixIno?: number;
  info?: ListenerInfo;
  /** Came from socket activation, in this generation or an earlier one. */
  activated?: boolean;
}

/** Exit codes: 0 after a clean handover or shutdown; 1 when forced. A second shutdown signal exits with 128 + its number. */
export const ExitCodes = {
  CLEAN: 0,
  /** The drain deadline cut connections, or a cleanup hook failed. */
  FORCED: 1,
} as const;

export const DEFAULTS = {
  readyTimeoutMs: 30_000,
  deadlineMs: 8_000,
  idleGraceMs: 1_500,
} as const;

/**
 * One generation of a server: declares its listeners, says ready, restarts into the next
 * generation, drains and exits. Create one per process.
 */
export class Graceful extends EventEmitter<GracefulEvents> {
  private currentState: State = 'starting';
  private readonly ownedListeners = new Map<string, OwnedListener>();
  private readonly cleanups: Array<() => unknown> = [];
  private readonly log: Logger;
  private readonly inheritance: Inheritance;
  private readonly predecessor: PredecessorLink | undefined;
  private readonly signals: SignalHandlers | undefined;
  private readonly notifier: SystemdNotifier | undefined;
  /** The restart under way: a shutdown aborts it, and exits only once its successor is stopped. */
  private restartInFlight: { abort: AbortController; attempt: Promise<RestartResult> } | undefined;
  /** The one drain of this generation, after a handover or for shutdown; a shutdown joins it. */
  private drainPromise: Promise<DrainReport> | undefined;
  private finalShutdown = false;
  private becameReady = false;
  /** A restart signal that arrived before ready(): carried out right after it. */
  private restartRequestedWhileStarting: NodeJS.Signals | undefined;
  private startedAt = Date.now();
  /** The last restart's outcome, for status routes. */
  lastRestart:
    | { ok: true; result: RestartResult }
    | { ok: false; error: GracefulRestartError }
    | undefined;

  constructor(private readonly options: GracefulOptions = {}) {
    super();
    validateOptions(options);
    this.log = resolveLogger(options.logger);
    this.inheritance = Inheritance.forProcess();
    const manifest = this.inheritance.manifest;
    this.predecessor = manifest
      ? new PredecessorLink(manifest.readyFd, manifest.supervised === true)
      : undefined;
    if (this.predecessor?.supervised) this.followSupervisor(this.predecessor);
    this.notifier = SystemdNotifier.fromEnv(this.log);
    this.signals =
      options.signals === false
        ? undefined
        : new SignalHandlers(
            options.signals ?? {},
            {
              restart: (signal) => this.restartFromSignal(signal),
              shutdown: (signal) => this.shutdownFromSignal(signal),
            },
            this.log,
          );
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
    return [...this.ownedListeners.values()].flatMap((owned) => (owned.info ? [owned.info] : []));
  }

  /** Where this generation logs (the `logger` option, resolved). */
  get logger(): Logger {
    return this.log;
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
    return this.predecessor?.supervised === true;
  }

  /** Wires a supervised worker to its supervisor's decisions. */
  private followSupervisor(link: PredecessorLink): void {
    link.onUnrequestedHandover = (result) => {
      // The supervisor's own SIGHUP or `reload`: the same moves as a restart this worker ran.
      if (this.currentState !== 'serving') return;
      this.apply('restart');
      this.handedOver(result);
    };
    link.onRestartFailed = (error) => {
      this.lastRestart = { ok: false, error };
      this.log.error(`the supervisor's restart failed, still serving: ${error.message}`);
      this.emit('restart-failed', error);
    };
    link.onClose(() => {
      if (isShuttingDown(this.currentState) || this.currentState === 'draining') return;
      // Nothing would restart this worker or hand its listeners on: leave cleanly.
      this.log.error('the supervisor is gone; shutting down');
      void this.shutdown();
    });
  }

  private apply(event: StateEvent): void {
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
    validateSpec(spec);
    const name = spec.name ?? DEFAULT_LISTENER_NAME;
    if (this.currentState !== 'starting') {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_STATE,
        `Listener "${name}": listen() must be called before ready() (state is ${this.currentState}).`,
        { listener: name },
      );
    }
    if (this.ownedListeners.has(name)) {
      throw new GracefulRestartError(
        ErrorCodes.DUPLICATE_LISTENER,
        `Listener "${name}" is declared twice. Give each listener its own name.`,
        { listener: name },
      );
    }
    if (server.listening) {
      throw new GracefulRestartError(
        ErrorCodes.SERVER_UNSUPPORTED,
        `Listener "${name}": the server is already listening. Pass it to listen() instead of calling server.listen().`,
        { listener: name },
      );
    }
    const drain = this.options.drain ?? {};
    const tracker = new ConnectionTracker(server, protocol, {
      keepAliveHintSeconds:
        (drain.keepAliveHint ?? true)
          ? keepAliveHintFor(drain.idleGraceMs ?? DEFAULTS.idleGraceMs)
          : undefined,
    });
    const owned: OwnedListener = { name, spec, server, tracker, origin: 'bound' };
    const kind = isUnixSpec(spec) ? 'unix' : 'tcp';

    const inherited = this.inheritance.claim(name, spec, this.log);
    if (!inherited && this.supervised) {
      const held = this.inheritance.manifest?.listeners.map((l) => l.name).join(', ') || 'none';
      throw new GracefulRestartError(
        ErrorCodes.LISTENER_NOT_SUPERVISED,
        `Listener "${name}" is not held by the supervisor (it holds: ${held}). Add ` +
          `--listen ${name}=${isUnixSpec(spec) ? `unix:${spec.path}` : describeSpec(spec)} to \`graceful-restart run\`.`,
        { listener: name },
      );
    }
    if (inherited) {
      checkListeningFd(inherited.fd, kind, name);
      await this.adopt(server, inherited.fd, name, spec);
      if (inherited.kind === 'tcp') checkInheritedAddress(server, inherited, name);
      owned.origin = 'inherited';
      if (inherited.ino !== undefined) owned.unixIno = inherited.ino;
      if (inherited.activated) owned.activated = true;
    } else {
      const activated = this.inheritance.claimActivated(name);
      if (activated !== undefined) {
        checkListeningFd(activated, kind, name);
        await this.adopt(server, activated, name, spec);
        owned.origin = 'socket-activation';
        owned.activated = true;
      } else if (isUnixSpec(spec)) {
        owned.unixIno = await bindUnix(server, spec, name);
      } else {
        const options = {
          port: spec.port,
          host: spec.host ?? '127.0.0.1',
          ...(spec.backlog === undefined ? {} : { backlog: spec.backlog }),
          ...(spec.ipv6Only === undefined ? {} : { ipv6Only: spec.ipv6Only }),
        };
        try {
          await listenAsync(server, options);
        } catch (cause) {
          throw bindError(name, describeSpec(spec), cause);
        }
      }
    }
    const info: ListenerInfo = { name, origin: owned.origin, address: describeSpec(spec) };
    const address = boundAddress(server);
    if (address) {
      info.port = address.port;
      info.address = describeSpec({ host: address.host, port: address.port });
    }
    owned.info = info;
    this.ownedListeners.set(name, owned);
    this.log.info(`listener "${name}" ${owned.origin} on ${info.address}`);
    return info;
  }

  private async adopt(
    server: NetServer,
    fd: number,
    name: string,
    spec: ListenerSpec,
  ): Promise<void> {
    // A Unix socket adopted by fd has no path in node, so server.address() would be null
    // (frameworks log it at 'listening'): name it as a fresh bind would.
    if (isUnixSpec(spec)) setPipeName(server, spec.path);
    try {
      await listenAsync(server, { fd });
    } catch (cause) {
      throw new GracefulRestartError(
        ErrorCodes.FD_NOT_LISTENING,
        `Listener "${name}": cannot adopt fd ${fd} (${(cause as Error).message}). It must be a listening socket.`,
        { listener: name, fd, cause },
      );
    }
  }

  /**
   * This generation is ready to serve: unclaimed inherited fds are closed, the previous
   * generation is told (it then drains) and the PID file is written.
   */
  async ready(): Promise<void> {
    this.apply('ready');
    this.inheritance.closeUnclaimed(this.log);
    this.becameReady = true;
    // systemd learns the new main pid before the previous generation is told to drain and exit.
    await this.notifier?.ready(process.pid, this.predecessor !== undefined);
    if (this.predecessor) await this.predecessor.sendReady();
    if (this.options.pidFile) await writePidFile(this.options.pidFile, process.pid);
    const from = this.supervised
      ? `, supervised by pid ${process.ppid}`
      : this.predecessor
        ? ', took over from the previous generation'
        : '';
    this.log.info(`ready (pid ${process.pid}${from})`);
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
    await this.notifier?.reloading();
    try {
      let result: RestartResult;
      if (this.predecessor?.supervised) {
        // The supervisor holds the listeners and starts the next worker with them.
        this.log.info('restart: asking the supervisor for the next worker');
        result = await this.predecessor.requestRestart(signal);
      } else {
        this.log.info('restart: starting the next generation');
        const command =
          typeof this.options.command === 'function'
            ? this.options.command()
            : (this.options.command ?? currentCommand());
        const successor = await startSuccessor({
          command,
          listeners: [...this.ownedListeners.values()].map((owned) => ({
            listener: manifestEntry(owned),
            fd: serverFd(owned.server),
          })),
          readyTimeoutMs: this.options.readyTimeoutMs ?? DEFAULTS.readyTimeoutMs,
          signal,
        });
        result = {
          oldPid: process.pid,
          newPid: successor.pid,
          durationMs: Math.round(performance.now() - started),
        };
      }
      this.handedOver(result);
      return result;
    } catch (cause) {
      const error =
        cause instanceof GracefulRestartError
          ? cause
          : new GracefulRestartError(
              ErrorCodes.SPAWN_FAILED,
              `Restart failed: ${(cause as Error).message}`,
              { cause },
            );
      this.lastRestart = { ok: false, error };
      // A shutdown during the restart already moved the state on; leave it there.
      if (this.currentState === 'restarting') {
        this.apply('restart-failed');
        void this.notifier?.restartFailed(error.message);
      }
      this.log.error(`restart failed: ${error.message}`);
      this.emit('restart-failed', error);
      throw error;
    }
  }

  /** The next generation serves: record it, tell listeners, drain this one. */
  private handedOver(result: RestartResult): void {
    this.lastRestart = { ok: true, result };
    this.apply('restart-succeeded');
    this.log.info(
      `restart: pid ${result.newPid} is ready after ${result.durationMs} ms; draining pid ${process.pid}`,
    );
    this.emit('restart', result);
    void this.drainOnce();
  }

  /** Drains and exits for good. A restart in progress is aborted and its successor stopped. */
  shutdown(): Promise<DrainReport> {
    if (this.finalShutdown && this.drainPromise) return this.drainPromise;
    this.apply('shutdown');
    // After a handover the drain already runs; the successor owns the Unix paths and PID file.
    if (!this.drainPromise) {
      // A successor stopped before it was ready owns nothing yet: the Unix paths and PID file
      // are still the serving generation's.
      this.finalShutdown = this.predecessor === undefined || this.becameReady;
      if (this.finalShutdown) void this.notifier?.stopping();
    }
    this.restartInFlight?.abort.abort();
    return this.drainOnce();
  }

  private restartFromSignal(signal: NodeJS.Signals): void {
    if (this.currentState === 'starting') {
      // The code and config on disk may have changed since this process read them: the
      // request is kept, and carried out once this generation is ready.
      this.restartRequestedWhileStarting = signal;
      this.log.info(`${signal} during startup: restarting once ready`);
      return;
    }
    this.log.info(`${signal}: restart requested`);
    this.restart().catch((error: GracefulRestartError) => {
      if (error.code === ErrorCodes.INVALID_STATE)
        this.log.warn(`${signal} ignored: ${error.message}`);
    });
  }

  private shutdownFromSignal(signal: NodeJS.Signals): void {
    const outcome = transition(this.currentState, 'shutdown');
    if (outcome.type === 'force') {
      this.log.error(`${signal} again: exiting now without finishing the drain`);
      process.exit(128 + osConstants.signals[signal]);
    }
    if (outcome.type === 'refuse') return;
    this.log.info(`${signal}: shutting down`);
    void this.shutdown();
  }

  private drainOnce(): Promise<DrainReport> {
    this.drainPromise ??= this.drainAndExit();
    return this.drainPromise;
  }

  private async drainAndExit(): Promise<DrainReport> {
    const drain = this.options.drain ?? {};
    const deadlineMs = drain.deadlineMs ?? DEFAULTS.deadlineMs;
    const started = performance.now();
    const reports = await Promise.all(
      [...this.ownedListeners.values()].map((owned) =>
        owned.tracker.drain({
          deadlineMs,
          idleGraceMs: drain.idleGraceMs ?? DEFAULTS.idleGraceMs,
          closeConnection: drain.closeConnection,
        }),
      ),
    );
    const report = mergeDrainReports(reports, Math.round(performance.now() - started));
    // A supervised worker's Unix paths are the supervisor's: they outlive every worker.
    if (this.finalShutdown && !this.supervised) {
      for (const owned of this.ownedListeners.values()) {
        if (isUnixSpec(owned.spec)) await removeUnixPath(owned.spec.path, owned.unixIno);
      }
    }
    if (this.finalShutdown && this.options.pidFile) {
      await removePidFile(this.options.pidFile, process.pid);
    }
    const remaining = Math.max(0, deadlineMs - (performance.now() - started));
    const cleanFailed = !(await runCleanups(this.cleanups, remaining, this.log));
    this.log.info(
      `drained in ${report.durationMs} ms: ${report.requestsCompleted} requests completed, ` +
        `${report.socketsClosedIdle} idle sockets closed, ${report.socketsForced} forced at the deadline`,
    );
    this.signals?.uninstall();
    if (this.currentState !== 'stopped') this.apply('drained');
    this.emit('drained', report);
    // A restart aborted by this shutdown settles once its successor is stopped.
    await this.restartInFlight?.attempt.catch(() => undefined);
    await this.notifier?.flush();
    if (this.options.exitProcess ?? true) {
      process.exit(report.deadlineReached || cleanFailed ? ExitCodes.FORCED : ExitCodes.CLEAN);
    }
    return report;
  }

  /** Removes this instance's signal handlers. */
  uninstall(): void {
    this.signals?.uninstall();
  }
}

function manifestEntry(owned: OwnedListener): Omit<ManifestListener, 'fd'> {
  const activated = owned.activated ? { activated: true } : {};
  if (isUnixSpec(owned.spec)) {
    return {
      name: owned.name,
      kind: 'unix',
      path: owned.spec.path,
      ...(owned.unixIno === undefined ? {} : { ino: owned.unixIno }),
      ...activated,
    };
  }
  const address = boundAddress(owned.server);
  return {
    name: owned.name,
    kind: 'tcp',
    host: address?.host ?? owned.spec.host ?? '127.0.0.1',
    port: address?.port ?? owned.spec.port,
    ...activated,
  };
}

function checkInheritedAddress(server: NetServer, expected: ManifestListener, name: string): void {
  const actual = boundAddress(server);
  if (actual && (actual.port !== expected.port || actual.host !== expected.host)) {
    server.close();
    throw new GracefulRestartError(
      ErrorCodes.FD_ADDRESS_MISMATCH,
      `Listener "${name}": inherited fd ${expected.fd} listens on ${actual.host}:${actual.port}, ` +
        `but the manifest says ${expected.host}:${expected.port}. Restart from a clean start.`,
      { listener: name, fd: expected.fd },
    );
  }
}

async function runCleanups(
  hooks: Array<() => unknown>,
  budgetMs: number,
  log: Logger,
): Promise<boolean> {
  let ok = true;
  const deadline = new Promise<'timeout'>((resolve) =>
    setTimeout(() => resolve('timeout'), budgetMs).unref(),
  );
  for (const hook of hooks) {
    try {
      const outcome = await Promise.race([Promise.resolve().then(hook), deadline]);
      if (outcome === 'timeout') {
        log.error('a shutdown hook did not finish within the drain deadline');
        return false;
      }
    } catch (error) {
      ok = false;
      log.error(
        `a shutdown hook failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return ok;
}

function validateOptions(options: GracefulOptions): void {
  const positive = (value: unknown, name: string) => {
    if (
      value !== undefined &&
      (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    ) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_OPTION,
        `${name} must be a non-negative number of milliseconds (got ${JSON.stringify(value)}).`,
      );
    }
  };
  positive(options.readyTimeoutMs, 'readyTimeoutMs');
  positive(options.drain?.deadlineMs, 'drain.deadlineMs');
  positive(options.drain?.idleGraceMs, 'drain.idleGraceMs');
  const hint = options.drain?.keepAliveHint;
  if (hint !== undefined && typeof hint !== 'boolean') {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `drain.keepAliveHint must be true or false (got ${JSON.stringify(hint)}).`,
    );
  }
  if (
    options.pidFile !== undefined &&
    (typeof options.pidFile !== 'string' || options.pidFile === '')
  ) {
    throw new GracefulRestartError(ErrorCodes.INVALID_OPTION, 'pidFile must be a non-empty path.');
  }
}

export function createGraceful(options?: GracefulOptions): Graceful {
  return new Graceful(options);
}
