import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import type { LameDuckSetting } from '../lame-duck-setting.js';
import { isRunning } from '../platform.js';
import { LineChannel } from './channel.js';
import { READY_BYTE } from './manifest.js';
import type {
  DrainProgress,
  DrainReport,
  SupervisorMessage,
  WorkerLoad,
  WorkerMessage,
} from './messages.js';
import { errorFromWire, type RestartResult } from './outcome.js';
import type { Handover, Verdict } from './types.js';

/** What the process that started this generation says without being asked. */
interface StarterLinkEvents {
  /** The restart that made this generation serve, as its predecessor measured it. */
  'took-over': [result: RestartResult];
  /** The generation it replaced finished draining. */
  'predecessor-drained': [report: DrainReport];
  /** Supervised: a handover the supervisor decided (its own SIGHUP or `reload`): drain. */
  handover: [handover: Handover];
  /** Supervised: the supervisor's own reload failed; this worker keeps serving. */
  'restart-failed': [error: GracefulRestartError];
  /** Supervised: a reload starts: take what a rollback needs. */
  prepare: [];
  /** Supervised: too many old workers of this slot drain (drain.maxOldGenerations): cut this one. */
  'cut-drain': [];
  /** Supervised: the supervisor stops: drain and exit (after its lame duck, when given). */
  shutdown: [lameDuck: LameDuckSetting | undefined];
}

/**
 * This generation's end of fd 3, towards the process that started it: it says ready there and
 * sees that process exit (EOF). Under the supervisor it also carries restart requests and their
 * outcome, one JSON line each way.
 */
export class StarterLink extends EventEmitter<StarterLinkEvents> {
  private readonly socket: Socket;
  private readonly channel: LineChannel<SupervisorMessage, WorkerMessage>;
  private pendingRestart:
    | { resolve: (handover: Handover) => void; reject: (error: GracefulRestartError) => void }
    | undefined;
  /** Settles the probation of the handover under way (supervised). */
  private settleProbation: ((verdict: Verdict) => void) | undefined;
  /** What the replaced generation handed off; undefined once it is gone without a word. */
  readonly handedOff: Promise<unknown>;
  /**
   * The previous generations still draining: direct mode, as the last one reported them until
   * it has exited; supervised, the workers of this slot as the handover listed them.
   */
  get drainingBefore(): DrainProgress[] {
    // A report is up to a second old, and one generation's may carry an older one's: a
    // generation cut or exited since is not draining any more.
    return this.reportedDraining.filter((generation) => isRunning(generation.pid));
  }
  private reportedDraining: DrainProgress[] = [];
  /** Settles once the previous generation has exited. */
  readonly predecessorExited: Promise<void>;
  /** Settles when the process that started this one is gone (EOF on fd 3). */
  readonly closed: Promise<void>;

  constructor(
    fd: number,
    readonly supervised = false,
  ) {
    super();
    this.socket = new Socket({ fd, readable: true, writable: true });
    this.channel = new LineChannel(this.socket);
    let handedOff: (data: unknown) => void = () => undefined;
    this.handedOff = new Promise((resolve) => {
      handedOff = resolve;
    });
    this.closed = new Promise((resolve) => this.channel.once('close', () => resolve()));
    let predecessorExited: () => void = () => undefined;
    // Directly started: the previous generation's exit closes the pipe. Supervised: the
    // supervisor's exit does, and it also says when the replaced worker is gone.
    this.predecessorExited = new Promise((resolve) => {
      predecessorExited = resolve;
      void this.closed.then(resolve);
    });
    void this.predecessorExited.then(() => {
      this.reportedDraining = [];
    });
    this.channel.on('message', (message) => {
      if (message.type === 'predecessors-draining') this.reportedDraining = message.generations;
      else if (message.type === 'predecessor-exited') {
        predecessorExited();
        handedOff(undefined);
      } else if (message.type === 'handed-off') handedOff(message.data);
      else if (message.type === 'predecessor-drained') {
        this.emit('predecessor-drained', message.report);
      } else if (message.type === 'handover') this.handover(message);
      else if (message.type === 'restart-failed') this.restartFailed(message);
      else if (message.type === 'prepare') this.emit('prepare');
      else if (message.type === 'cut-drain') this.emit('cut-drain');
      else if (message.type === 'shutdown') this.emit('shutdown', supervisorLameDuck(message));
      else if (message.type === 'took-over') this.emit('took-over', message.result);
      else if (message.type === 'probation-passed') this.settleProbation?.({ passed: true });
      else if (message.type === 'rollback')
        this.settleProbation?.({ passed: false, error: errorFromWire(message) });
    });
    this.channel.once('close', () => {
      handedOff(undefined);
      this.pendingRestart?.reject(
        new GracefulRestartError(
          ErrorCodes.RESTART_ABORTED,
          'The supervisor went away during the restart; this worker keeps serving until it stops.',
        ),
      );
      // Nobody is left to roll back for.
      this.settleProbation?.({ passed: true });
    });
    this.socket.unref();
  }

  sendReady(): Promise<void> {
    return new Promise((resolve) => this.socket.write(READY_BYTE, () => resolve()));
  }

  /** This generation drains on purpose: its exit that follows is no crash to roll back from. */
  sendLeaving(): void {
    this.channel.send({ type: 'leaving' });
  }

  /** Direct mode: asks the generations before this one to cut the drains of `pids`. */
  sendCutDrains(pids: number[]): void {
    this.channel.send({ type: 'cut-drains', pids });
  }

  /** Supervised: this worker crashed and leaves; the supervisor replaces it at once. */
  sendCrashed(): void {
    this.channel.send({ type: 'crashed' });
  }

  /** Supervised: this worker's drain as it goes (status lists it). */
  sendDraining(progress: DrainProgress): void {
    this.channel.send({ type: 'draining', ...progress });
  }

  /** Tells the supervisor what this worker carries (status shows it). */
  sendLoad(load: WorkerLoad): void {
    this.channel.send({ type: 'load', ...load });
  }

  /** Supervised: asks the supervisor for a restart; settles when the next worker serves or fails. */
  requestRestart(signal: AbortSignal): Promise<Handover> {
    return new Promise((resolve, reject) => {
      const onAbort = () =>
        reject(
          new GracefulRestartError(
            ErrorCodes.RESTART_ABORTED,
            'The restart was aborted by a shutdown of this worker; the supervisor carries it on.',
          ),
        );
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        this.pendingRestart = undefined;
        signal.removeEventListener('abort', onAbort);
      };
      this.pendingRestart = {
        resolve: (result) => {
          settle();
          resolve(result);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      if (this.channel.isClosed) {
        this.pendingRestart.reject(
          new GracefulRestartError(
            ErrorCodes.RESTART_ABORTED,
            'The supervisor is gone; no restart is possible.',
          ),
        );
        return;
      }
      this.channel.send({ type: 'restart' });
    });
  }

  private handover(message: Extract<SupervisorMessage, { type: 'handover' }>): void {
    this.reportedDraining = message.drainingBefore ?? [];
    const probation =
      (message.probationMs ?? 0) > 0
        ? new Promise<Verdict>((resolve) => {
            this.settleProbation = (verdict) => {
              this.settleProbation = undefined;
              resolve(verdict);
            };
          })
        : undefined;
    const handover: Handover = {
      result: message.result,
      probation,
      // Through the supervisor, which passes them on to the worker that took this one's slot.
      successor: {
        handOff: (data) =>
          this.channel.send({ type: 'hand-off', ...(data === undefined ? {} : { data }) }),
        reportDrained: (report) => this.channel.send({ type: 'drained', report }),
        // The supervisor hears of this drain from sendDraining(), whatever replaced this worker.
        reportDraining: () => undefined,
      },
    };
    if (this.pendingRestart) this.pendingRestart.resolve(handover);
    else this.emit('handover', handover);
  }

  private restartFailed(message: Extract<SupervisorMessage, { type: 'restart-failed' }>): void {
    const error = errorFromWire(message);
    if (this.pendingRestart) this.pendingRestart.reject(error);
    else this.emit('restart-failed', error);
  }
}

/** The supervisor's lame duck, when its stop message gives one. */
function supervisorLameDuck(message: { lameDuckMs?: number }): LameDuckSetting | undefined {
  const ms = message.lameDuckMs;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return undefined;
  return { ms, why: "the supervisor's lame duck" };
}
