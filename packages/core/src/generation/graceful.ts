import { EventEmitter } from 'node:events';
import type { Server as NetServer } from 'node:net';
import type { ServerProtocol } from '../drain/options.js';
import type { DrainProgress, DrainReport } from '../handover/messages.js';
import type { RestartOutcome, RestartResult } from '../handover/outcome.js';
import { StarterLink } from '../handover/starter-link.js';
import { restartStrategyFor } from '../handover/strategies.js';
import { Health, type HealthAnswer } from '../health.js';
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
import { CrashResponse } from './crash.js';
import { cutDrains } from './drain-budgets.js';
import type { GracefulEvents } from './events.js';
import { claimProcess, refuseSecondInstance, releaseProcess } from './instance.js';
import { Lifecycle } from './lifecycle.js';
import { GenerationLog } from './log-lines.js';
import type { AppHooks } from './parts.js';
import { GenerationServers } from './servers.js';
import { onRestartSignal } from './signal-moves.js';
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
  private readonly appHooks: AppHooks = { shutdown: [], handOff: undefined };
  private readonly health: Health;
  private readonly crash: CrashResponse;

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
              restart: (signal) => onRestartSignal(lifecycle, signal, generationLog),
              shutdown: (signal) => void lifecycle.stop(signal),
            },
            log,
          );
    this.health = new Health(() => lifecycle.state);
    const generationLog = new GenerationLog(log);
    const parts = {
      options: this.options,
      servers: this.servers,
      predecessor: link,
      strategy,
      signals: this.signals,
      notifier: SystemdNotifier.fromEnv(log),
      log: generationLog,
      health: this.health,
      appHooks: this.appHooks,
      emit: this.emit.bind(this),
    };
    this.crash = new CrashResponse(parts, manifest?.crashes ?? []);
    const lifecycle = new Lifecycle({ ...parts, crash: this.crash });
    this.lifecycle = lifecycle;
    // Not where the process must not exit (exitProcess: false: a test, an embedding host).
    if (this.options.crashHandover && this.options.exitProcess) {
      this.crash.install((error) => lifecycle.crashed(error));
    }
    link?.on('took-over', (result) => lifecycle.tookOver(result));
    link?.on('predecessor-drained', (report) => this.emit('predecessor-drained', report));
    if (link?.supervised) {
      link.on('handover', (handover) => lifecycle.supervisorHandedOver(handover));
      link.on('restart-failed', (error) => lifecycle.restartFailed(error, 'the supervisor'));
      link.on('prepare', () => this.servers.prepareRollback());
      link.on('cut-drain', () => cutDrains(parts, [process.pid]));
      link.on('shutdown', (lameDuck) => lifecycle.stopFromSupervisor(lameDuck));
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

  /**
   * True once this process is shutting down for good, a lame duck included (not during a
   * handover): readiness answers 503.
   */
  get shuttingDown(): boolean {
    return isShuttingDown(this.lifecycle.state);
  }

  /**
   * The readiness answer (a load balancer's or orchestrator's readiness check): 200 while this
   * generation serves and the app says it is ready; 503 before the first generation is ready,
   * after setReady(false), during a lame duck and a final drain. 200 through a handover.
   * `notReady`: a reason this process should get no new traffic right now (an overload
   * verdict), answered as 503.
   */
  readiness(notReady?: string): HealthAnswer {
    return this.health.readiness(notReady);
  }

  /** The liveness answer: 200 until the process exits (a restart would not help a drain). */
  liveness(): HealthAnswer {
    return this.health.liveness();
  }

  /**
   * The app's own readiness (its database is gone, it sheds load): false makes readiness answer
   * 503 with `reason`, true again 200. Throws INVALID_STATE once shutdown has begun.
   */
  setReady(ready: boolean, reason?: string): void {
    this.health.setReady(ready, reason);
  }

  /**
   * Tells long-lived work to finish: with a request (node's, `request.raw` in fastify, `ctx.req`
   * in koa, `c.env.incoming` in hono), a signal that fires when the drain releases that
   * request's connection, paced with the others, so that SSE and long-poll handlers can send
   * their last event and end, spread over the drain's window; without one, a signal that fires
   * when this generation's drain begins (after a handover, or on a final stop).
   */
  drainSignal(req?: { socket?: unknown; stream?: { session?: unknown } }): AbortSignal {
    const handle = req?.stream?.session ?? req?.socket;
    return this.servers.drainSignal(handle as Parameters<GenerationServers['drainSignal']>[0]);
  }

  /** True when readiness would answer 200 now. */
  get isReady(): boolean {
    return this.health.ready;
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

  /**
   * Direct mode: the previous generations still draining (pid, since when, connections and
   * requests left, the deadline), as the last one reported a second ago; empty once it exited.
   * Under the supervisor, `graceful-restart status` lists them.
   */
  get predecessorsDraining(): DrainProgress[] {
    return this.predecessor?.drainingBefore ?? [];
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
    this.appHooks.shutdown.push(hook);
    return this;
  }

  /**
   * Hands data to the next generation at a restart (e.g. metric totals, so that counters go on
   * across generations): `provider` is called once the next generation is ready, and may return
   * a promise (waited for up to 1 s). JSON only, at most 48 KiB; the last provider given counts.
   * The next generation reads it with handedOff().
   */
  onHandOff(provider: () => unknown): this {
    this.appHooks.handOff = provider;
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
    this.crash.uninstall();
    void this.servers.dropDuplicates();
    releaseProcess(this);
  }
}

export function createGraceful(options?: GracefulOptions): Graceful {
  return new Graceful(options);
}
