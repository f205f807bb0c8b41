import type { Server as NetServer } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { ServerProtocol } from '../drain/options.js';
import {
  ErrorCodes,
  GracefulRestartError,
  isGracefulRestartError,
  toGracefulError,
} from '../errors.js';
import type { DrainReport } from '../handover/messages.js';
import { errorToWire, type RestartOutcome, type RestartResult } from '../handover/outcome.js';
import type { Handover, SuccessorMessenger } from '../handover/types.js';
import type { LameDuckSetting } from '../lame-duck-setting.js';
import { type ListenerSpec, listenerName, normalizeSpec } from '../sockets/spec.js';
import { atKeyboard } from '../terminal.js';
import { announceReady, serveAgain } from './announce.js';
import { afterDrain } from './drain-and-exit.js';
import { capOldGenerations, startDrain } from './drain-budgets.js';
import { handOffValue } from './hand-off.js';
import { LameDuck } from './lame-duck.js';
import type { GenerationLog } from './log-lines.js';
import type { GenerationParts, Probation } from './parts.js';
import { ProbationWait } from './probation.js';
import { RestartInFlight } from './restart-in-flight.js';
import { onRestartSignal } from './signal-moves.js';
import { SignalMemory, shutdownEvent, stopAction } from './signal-policy.js';
import {
  allows,
  hasDrainBegun,
  isStarting,
  type Outcome,
  type State,
  type StateEvent,
  transition,
} from './state.js';

/**
 * The moves of one generation, as its state table (state.ts) decides them. Each concern it
 * moves is a module of its own; Graceful assembles them and is the public face.
 */
export class Lifecycle {
  private currentState: State;
  private readonly probationWait = new ProbationWait();
  private readonly signalMemory = new SignalMemory();
  private readonly restartInFlight = new RestartInFlight();
  /** This generation's drain while it runs: a shutdown joins it; a rollback ends it. */
  private drain: Promise<DrainReport> | undefined;
  /** The generation that replaced this one, while this one drains. */
  private successor: SuccessorMessenger | undefined;
  private restartOutcome: RestartOutcome | undefined;
  private lameDuck: LameDuck | undefined;
  private readyAt: number | undefined;

  constructor(private readonly parts: GenerationParts) {
    this.currentState = parts.predecessor ? 'taking-over' : 'starting';
  }

  get state(): State {
    return this.currentState;
  }

  /** The last restart's outcome: this one's own, else the one that made this generation serve. */
  get lastRestart(): RestartOutcome | undefined {
    return this.restartOutcome;
  }

  private get log(): GenerationLog {
    return this.parts.log;
  }

  /** Moves as the state table says; throws INVALID_STATE (naming `listener`) when it refuses. */
  private apply(event: StateEvent, listener?: string): Outcome {
    const outcome = transition(this.currentState, event);
    if (outcome.type === 'refuse') {
      const message = `Cannot ${event} while ${this.currentState}: ${outcome.reason}.`;
      if (listener === undefined) throw new GracefulRestartError(ErrorCodes.INVALID_STATE, message);
      const named = `Listener "${listener}": ${message}`;
      throw new GracefulRestartError(ErrorCodes.INVALID_STATE, named, { listener });
    }
    if (outcome.type === 'move' && outcome.to !== this.currentState) {
      const previous = this.currentState;
      this.currentState = outcome.to;
      this.parts.emit('state', outcome.to, previous);
    }
    return outcome;
  }

  async listen(server: NetServer, spec: ListenerSpec, protocol?: ServerProtocol) {
    spec = normalizeSpec(spec);
    const name = listenerName(spec);
    this.apply('listen', name);
    const { servers } = this.parts;
    // A server closed by its owner (not by a handover) lets go of its port: so do the duplicates.
    return servers.add(server, spec, name, protocol, () => {
      if (this.currentState === 'serving') void servers.dropDuplicates();
    });
  }

  async ready(): Promise<void> {
    const { servers, predecessor: link } = this.parts;
    // Unmatched socket activation refuses the start before anything is told it is ready.
    if (isStarting(this.currentState)) servers.sockets.closeUnclaimed();
    this.apply('ready');
    this.readyAt = performance.now();
    await announceReady(this.parts);
    const predecessorGone = link?.predecessorExited ?? Promise.resolve();
    servers.prepareRollbackOnceAlone(predecessorGone, () => this.currentState === 'serving');
    const deferred = this.signalMemory.takeDeferred();
    if (deferred && this.currentState === 'serving') onRestartSignal(this, deferred, this.log);
  }

  /** The predecessor says which restart made this generation serve. */
  tookOver(result: RestartResult): void {
    this.restartOutcome ??= { ok: true, result };
    this.parts.emit('took-over', result);
  }

  restart(): Promise<RestartResult> {
    try {
      this.apply('restart');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.restartInFlight.start((signal) => this.runRestart(signal));
  }

  private async runRestart(signal: AbortSignal): Promise<RestartResult> {
    const started = performance.now();
    this.parts.servers.prepareRollback();
    await this.parts.notifier?.reloading();
    try {
      const handover = await this.parts.strategy.next(signal, started);
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

  /** The next generation did not come: this one serves on (unless a shutdown moved it on). */
  restartFailed(error: GracefulRestartError, by: 'restart' | 'the supervisor'): void {
    this.restartOutcome = { ok: false, error: errorToWire(error) };
    if (allows(this.currentState, 'restart-failed')) {
      this.apply('restart-failed');
      void this.parts.notifier?.restartFailed(error.message);
    }
    this.log.restartFailed(error, by);
    this.parts.emit('restart-failed', error);
  }

  /**
   * The next generation serves: drain this one. With a probation it keeps the duplicates of its
   * sockets, and rolls back if the next one dies on probation. Resolves with the verdict.
   */
  private async handedOver(handover: Handover) {
    const { result, probation, successor } = handover;
    this.restartOutcome = { ok: true, result };
    this.successor = successor;
    capOldGenerations(this.parts, handover);
    if (successor) {
      const provider = this.parts.appHooks.handOff;
      void handOffValue(provider, this.log.logger).then((data) => successor.handOff(data));
    }
    this.apply('restart-succeeded');
    this.log.restarted(result, probation !== undefined);
    this.parts.emit('restart', result);
    const held = probation ? await this.parts.servers.claimDuplicates() : undefined;
    // Without the duplicates no rollback is possible; nor once a shutdown came meanwhile.
    const watched = held && probation && allows(this.currentState, 'rollback');
    if (held && !watched) for (const handle of held) handle.close();
    this.drain ??= this.drainAndExit(watched ? { verdict: probation, held, result } : undefined);
    return watched ? probation : undefined;
  }

  /** The supervisor's own SIGHUP or `reload`: the same moves as a restart this worker ran. */
  supervisorHandedOver(handover: Handover): void {
    if (!allows(this.currentState, 'restart')) return;
    this.apply('restart');
    void this.handedOver(handover);
  }

  /** The next generation died on probation: serve again on the held sockets, as before. */
  private async rollBack({ held, result }: Probation, error: GracefulRestartError) {
    this.apply('rollback');
    await serveAgain(this.parts, held);
    this.drain = undefined;
    this.restartOutcome = { ok: false, error: errorToWire(error) };
    this.log.rolledBack(error, result);
    this.successor = undefined;
    this.parts.emit('rollback', error, result);
  }

  supervisorGone(): void {
    if (hasDrainBegun(this.currentState)) return;
    // Nothing would restart this worker or hand its listeners on: leave cleanly.
    this.log.supervisorGone();
    void this.stop();
  }

  /** The supervisor stops: a stop signal to the whole process group is the same stop. */
  stopFromSupervisor(lameDuck: LameDuckSetting | undefined): void {
    this.signalMemory.supervisorStopped();
    void this.stop(undefined, lameDuck);
  }

  /**
   * A shutdown from code, or from `signal`: the table says whether it starts (with a lame duck
   * first, when one is set), joins, ends the lame duck or forces.
   */
  stop(signal?: NodeJS.Signals, lameDuck = this.parts.options.lameDuck): Promise<DrainReport> {
    const inLameDuck = this.currentState === 'lame-duck';
    // A stop during a handover's longer drain: what is left must fit the platform's budget.
    if (this.currentState === 'draining')
      this.parts.servers.shortenDrain(this.parts.options.drain.deadlineMs);
    const outcome = this.apply(shutdownEvent(lameDuck, signal));
    const action = stopAction(outcome, this.signalMemory.record(signal), inLameDuck);
    if (action === 'exit-now' && signal) {
      this.log.exitingNow(signal);
      process.exit(128 + osConstants.signals[signal]);
    }
    if (action === 'end-lame-duck') {
      this.log.lameDuckSkipped(signal);
      this.lameDuck?.end();
    }
    if (action === 'same-stop') {
      this.signalMemory.joined();
      this.log.sameStop(signal);
    }
    if (action === 'start') {
      const { deadlineMs } = this.parts.options.drain;
      const { supervised } = this.parts.strategy;
      this.log.shuttingDown(signal, { atKeyboard: atKeyboard(), supervised, deadlineMs });
      this.probationWait.end();
      // A final shutdown (not one after a handover, nor a successor's before ready) ends the service.
      if (this.currentState !== 'leaving') void this.parts.notifier?.stopping();
      this.restartInFlight.abort();
    }
    this.drain ??=
      this.currentState === 'lame-duck' ? this.lameDuckThenDrain(lameDuck) : this.drainAndExit();
    return this.drain;
  }

  /** Serves on, readiness 503, until the balancer has moved off or the time is up; then drains. */
  private async lameDuckThenDrain(setting: LameDuckSetting): Promise<DrainReport> {
    this.lameDuck = new LameDuck(setting, this.parts);
    await this.lameDuck.run();
    this.apply('lame-duck-over');
    return this.drainAndExit();
  }

  /** A restart signal before ready: carried out once ready (see signal-moves.ts). */
  deferRestart(signal: NodeJS.Signals): void {
    this.signalMemory.defer(signal);
  }

  /** An uncaught exception or unhandled rejection: crash.ts hands over (or drains) and exits. */
  crashed(error: unknown): void {
    const outcome = transition(this.currentState, 'crash');
    if (outcome.type === 'move') this.apply('crash');
    this.restartInFlight.abort();
    this.probationWait.end();
    const servedMs = this.readyAt === undefined ? 0 : performance.now() - this.readyAt;
    const drain = this.drain;
    // A shutdown meanwhile joins the crash's end: the process exits 1 once it is over.
    this.drain ??= new Promise<DrainReport>(() => undefined);
    void this.parts.crash.respond(error, outcome, drain, servedMs);
  }

  private async drainAndExit(probation?: Probation): Promise<DrainReport> {
    const { options, predecessor, notifier } = this.parts;
    // Whoever started this generation learns that its exit will be on purpose.
    predecessor?.sendLeaving();
    const draining = startDrain(this.parts, this.currentState, this.successor);
    if (probation) {
      const verdict = await this.probationWait.wait(probation.verdict);
      if (!verdict.passed && allows(this.currentState, 'rollback')) {
        await this.rollBack(probation, verdict.error);
        return draining;
      }
      for (const handle of probation.held) handle.close();
    }
    const report = await draining;
    // After a handover the next generation owns the paths and PID file, and a successor
    // stopped before ready never owned them.
    const owner = this.currentState === 'stopping';
    const exitCode = await afterDrain(report, this.parts, owner, this.successor);
    this.apply('drained');
    this.parts.emit('drained', report);
    // A restart aborted by this shutdown settles once its successor is stopped.
    await this.restartInFlight.settled();
    await notifier?.flush();
    if (options.exitProcess) process.exit(exitCode);
    return report;
  }
}
