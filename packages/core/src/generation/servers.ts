import type { Http2Session } from 'node:http2';
import type { Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { keepAliveHintFor } from '../drain/node-http.js';
import type { ServerProtocol } from '../drain/options.js';
import { ConnectionTracker } from '../drain/tracker.js';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import type { DrainProgress, DrainReport, WorkerLoad } from '../handover/messages.js';
import type { Logger } from '../logger.js';
import type { ResolvedOptions } from '../options.js';
import { removePidFile } from '../pid-file.js';
import type { GenerationSockets, ListenerInfo } from '../sockets/acquire.js';
import type { HeldHandle } from '../sockets/duplicate.js';
import type { ListenerSpec } from '../sockets/spec.js';
import { drainServers } from './drain-and-exit.js';
import { RollbackReserve } from './rollback-reserve.js';

/**
 * A generation's servers: their sockets (sockets/acquire.ts), the tracker that follows each
 * one's connections for the drain, and the duplicates held for a rollback.
 */
export class GenerationServers {
  private readonly trackers: ConnectionTracker[] = [];
  /** Fires when this generation's drain begins (graceful.drainSignal()). */
  private readonly drainBegun = new AbortController();
  /** When the drain under way began (epoch ms), and its deadline from then. */
  private readonly drainWindow = { startedAt: 0, deadlineMs: 0 };
  private readonly reserve: RollbackReserve;

  constructor(
    readonly sockets: GenerationSockets,
    private readonly drainOptions: ResolvedOptions['drain'],
    /** True when a restart may roll back (see RestartStrategy.canRollBack). */
    private readonly canRollBack: boolean,
    log: Logger,
  ) {
    this.reserve = new RollbackReserve((signal) => sockets.holdDuplicates(signal), log);
  }

  /**
   * Follows `server`'s connections from now on and makes it listen on `spec` (the name is new,
   * the server not listening yet). `ownerClosed` runs when its owner closes it.
   */
  add(
    server: NetServer,
    spec: ListenerSpec,
    name: string,
    protocol: ServerProtocol | undefined,
    ownerClosed: () => void,
  ): Promise<ListenerInfo> {
    this.sockets.checkNewName(name);
    if (server.listening) {
      throw new GracefulRestartError(
        ErrorCodes.SERVER_UNSUPPORTED,
        `Listener "${name}": the server is already listening. Pass it to listen() instead of calling server.listen().`,
        { listener: name },
      );
    }
    const { keepAliveHint, idleGraceMs } = this.drainOptions;
    this.trackers.push(
      new ConnectionTracker(server, protocol, {
        keepAliveHintSeconds: keepAliveHint ? keepAliveHintFor(idleGraceMs) : undefined,
      }),
    );
    server.on('close', ownerClosed);
    return this.sockets.acquire(server, spec);
  }

  /** The servers this generation listens with (what a warm-up requests through). */
  get servers(): NetServer[] {
    return this.trackers.map((tracker) => tracker.server);
  }

  /** Open connections and requests received, over every server. */
  load(): WorkerLoad {
    const load = { connections: 0, requests: 0 };
    for (const tracker of this.trackers) {
      load.connections += tracker.load.connections;
      load.requests += tracker.load.requests;
    }
    return load;
  }

  /** Requests (and raw connections) received over every server: what a lame duck watches. */
  arrivals(): number {
    return this.trackers.reduce((sum, tracker) => sum + tracker.arrivals, 0);
  }

  /**
   * The drain signal of the connection `handle` is on (ConnectionTracker.drainSignalOf()), or,
   * for one no tracker follows, the generation's: it fires when the drain begins.
   */
  drainSignal(handle?: Duplex | Http2Session): AbortSignal {
    for (const tracker of handle ? this.trackers : []) {
      const signal = tracker.drainSignalOf(handle as Duplex | Http2Session);
      if (signal) return signal;
    }
    return this.drainBegun.signal;
  }

  /** Serves on with every response closing its connection (see ConnectionTracker). */
  beginLameDuck(): void {
    for (const tracker of this.trackers) tracker.beginLameDuck();
  }

  /**
   * Takes the duplicates once the previous generation has gone, not while this one takes over:
   * the helper's spawn would block this loop right when the clients move here. Not for
   * listeners their owner has closed meanwhile; a restart sooner takes them itself.
   */
  prepareRollbackOnceAlone(predecessorGone: Promise<void>, stillServing: () => boolean): void {
    void predecessorGone.then(() =>
      setImmediate(() => {
        if (stillServing() && this.sockets.allListening()) this.prepareRollback();
      }),
    );
  }

  /** Starts taking what a rollback needs, unless it is held already or none can happen. */
  prepareRollback(): void {
    if (this.canRollBack) this.reserve.prepare();
  }

  /** The duplicates, now the caller's: a probation keeps them until its verdict. */
  claimDuplicates(): Promise<HeldHandle[] | undefined> {
    this.reserve.prepare();
    return this.reserve.claim();
  }

  /** Closes the duplicates no rollback will use (a server its owner closed, uninstall()). */
  dropDuplicates(): Promise<void> {
    return this.reserve.drop();
  }

  /**
   * Drains every server. A probation has claimed its duplicates already; any other drain needs
   * none, and the listeners close once they are gone.
   */
  drain(
    progress: (left: DrainProgress) => void,
    override: Partial<ResolvedOptions['drain']> = {},
  ): Promise<DrainReport> {
    const options = { ...this.drainOptions, ...override };
    this.drainBegun.abort();
    Object.assign(this.drainWindow, { startedAt: Date.now(), deadlineMs: options.deadlineMs });
    return drainServers(this.trackers, options, this.reserve.drop(), progress, this.drainWindow);
  }

  /** The drain under way ends at the latest `ms` from now: 0 cuts what is left at once. */
  shortenDrain(ms: number): void {
    const { startedAt, deadlineMs } = this.drainWindow;
    this.drainWindow.deadlineMs = Math.min(deadlineMs, Date.now() + ms - startedAt);
    for (const tracker of this.trackers) tracker.shortenDrain(ms);
  }

  /** The deadline of the drain under way (or the last), from its start, as shortened. */
  get drainDeadlineMs(): number {
    return this.drainWindow.deadlineMs;
  }

  /** A final shutdown removes what the service owns: its Unix socket paths and PID file. */
  async removeOwned(pidFile: string | undefined): Promise<void> {
    await this.sockets.removeOwnedPaths();
    if (pidFile) await removePidFile(pidFile, process.pid);
  }

  /** After a rollback: listen again on the `held` duplicates, and serve as before the drain. */
  async serveAgain(held: HeldHandle[]): Promise<void> {
    // New connections first: they wait in the listen backlog until this listens again.
    await this.sockets.listenAgain(held);
    for (const tracker of this.trackers) tracker.resume();
    // The held duplicates are the listeners now: new ones for the next rollback.
    this.prepareRollback();
  }
}
