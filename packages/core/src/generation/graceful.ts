import { EventEmitter } from 'node:events';
import type { Server as NetServer } from 'node:net';
import type { ServerProtocol } from '../drain/options.js';
import type { DrainReport } from '../handover/messages.js';
import type { RestartOutcome, RestartResult } from '../handover/outcome.js';
import { StarterLink } from '../handover/starter-link.js';
import { restartStrategyFor } from '../handover/strategies.js';
import type { Logger } from '../logger.js';
import { type GracefulOptions, resolveOptions } from '../options.js';
import { checkPidFileDirectory } from '../pid-file.js';
import { refuseUnsupportedPlatform } from '../platform.js';
import { SignalHandlers } from '../signals.js';
import { GenerationSockets, type ListenerInfo } from '../sockets/acquire.js';
import { Inheritance } from '../sockets/inheritance.js';
import type { ListenerSpec } from '../sockets/spec.js';
import { SystemdNotifier } from '../systemd.js';
import { guardTerminalWrites } from '../terminal.js';
import type { GracefulEvents } from './events.js';
import { claimProcess, refuseSecondInstance, releaseProcess } from './instance.js';
import { Lifecycle } from './lifecycle.js';
import { GenerationLog } from './log-lines.js';
import { GenerationServers } from './servers.js';
import { isShuttingDown, type State } from './state.js';

export type { GracefulEvents } from './events.js';

/**
 * One generation of a server: declares its listeners, says ready, restarts into the next
 * generation, drains and exits. Create one per process. This class assembles the generation
 * and is its public face; its moves are Lifecycle's (lifecycle.ts), decided by the state table.
 */
export class Graceful extends EventEmitter<GracefulEvents> {
  private readonly lifecycle: Lifecycle;
  private readonly options: ReturnType<typeof resolveOptions>;
  private readonly servers: GenerationServers;
  private readonly predecessor: StarterLink | undefined;
  private readonly signals: SignalHandlers | undefined;
  private readonly startedAt = Date.now();

  constructor(options: GracefulOptions = {}) {
    super();
    refuseUnsupportedPlatform();
    guardTerminalWrites();
    this.options = resolveOptions(options);
    const inheritance = Inheritance.forProcess();
    const { manifest } = inheritance;
    refuseSecondInstance({
      handlesSignals: this.options.signals !== false,
      successor: manifest !== undefined,
    });
    if (this.options.pidFile) checkPidFileDirectory(this.options.pidFile);
    const { command, cwd, env, probationMs, readyTimeoutMs, logger: log } = this.options;
    const sockets = new GenerationSockets(inheritance, log);
    const link = manifest && new StarterLink(manifest.readyFd, manifest.supervised === true);
    this.predecessor = link;
    const listeners = () => sockets.handOver();
    const direct = { command, cwd, env, probationMs, readyTimeoutMs, log, listeners };
    const strategy = restartStrategyFor(link, direct);
    this.servers = new GenerationServers(sockets, this.options.drain, strategy.canRollBack, log);
    const { signals } = this.options;
    this.signals =
      signals === false
        ? undefined
        : new SignalHandlers(
            signals,
            {
              restart: (signal) => lifecycle.restartFromSignal(signal),
              shutdown: (signal) => void lifecycle.stop(signal),
            },
            log,
          );
    const lifecycle = new Lifecycle({
      options: this.options,
      servers: this.servers,
      predecessor: link,
      strategy,
      signals: this.signals,
      notifier: SystemdNotifier.fromEnv(log),
      log: new GenerationLog(log),
      emit: this.emit.bind(this),
    });
    this.lifecycle = lifecycle;
    link?.on('took-over', (result) => lifecycle.tookOver(result));
    link?.on('predecessor-drained', (report) => this.emit('predecessor-drained', report));
    if (link?.supervised) {
      link.on('handover', (handover) => lifecycle.supervisorHandedOver(handover));
      link.on('restart-failed', (error) => lifecycle.restartFailed(error, 'the supervisor'));
      link.on('prepare', () => this.servers.prepareRollback());
      link.on('shutdown', () => lifecycle.stopFromSupervisor());
      void link.closed.then(() => lifecycle.supervisorGone());
    }
    claimProcess(this, { handlesSignals: this.signals !== undefined });
    // From the start, so that a signal during startup (a reload right after launch, Ctrl-C) is
    // handled, not the default action that kills the process.
    this.signals?.install();
  }

  get state(): State {
    return this.lifecycle.state;
  }

  /** True once this process is shutting down for good (not during a handover): health answers 503. */
  get shuttingDown(): boolean {
    return isShuttingDown(this.lifecycle.state);
  }

  /** The listeners of this generation, in declaration order. */
  get endpoints(): ListenerInfo[] {
    return this.servers.sockets.endpoints;
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
    return this.predecessor?.supervised === true;
  }

  /** The last restart's outcome, for status routes. */
  get lastRestart(): RestartOutcome | undefined {
    return this.lifecycle.lastRestart;
  }

  /**
   * Makes `server` listen on the named listener: inherited from the previous generation when
   * there is one, else from systemd socket activation, else bound fresh. Call before ready().
   */
  listen(server: NetServer, spec: ListenerSpec, protocol?: ServerProtocol): Promise<ListenerInfo> {
    return this.lifecycle.listen(server, spec, protocol);
  }

  /**
   * This generation is ready to serve: unclaimed inherited fds are closed, the previous
   * generation is told (it then drains) and the PID file is written.
   */
  ready(): Promise<void> {
    return this.lifecycle.ready();
  }

  /** Resolves once the previous generation has exited (immediately for a first generation). */
  waitForParent(): Promise<void> {
    return this.predecessor?.predecessorExited ?? Promise.resolve();
  }

  /** Runs `hook` once after connections are gone on the way out (close a DB pool, flush logs). */
  onShutdown(hook: () => unknown): this {
    this.lifecycle.addShutdownHook(hook);
    return this;
  }

  /**
   * Hands data to the next generation at a restart (e.g. metric totals, so that counters go on
   * across generations): `provider` is called once the next generation is ready, and may return
   * a promise (waited for up to 1 s). JSON only, at most 48 KiB; the last provider given counts.
   * The next generation reads it with handedOff().
   */
  onHandOff(provider: () => unknown): this {
    this.lifecycle.handOffWith(provider);
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
    return this.lifecycle.restart();
  }

  /** Drains and exits for good. A restart in progress is aborted and its successor stopped. */
  shutdown(): Promise<DrainReport> {
    return this.lifecycle.stop();
  }

  /**
   * Removes this instance's signal handlers and lets go of the process: another Graceful may
   * be created in it afterwards (tests, a server stopped without exiting).
   */
  uninstall(): void {
    this.signals?.uninstall();
    void this.servers.dropDuplicates();
    releaseProcess(this);
  }
}

export function createGraceful(options?: GracefulOptions): Graceful {
  return new Graceful(options);
}
