import { type ChildProcess, spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineChannel } from './channel.js';
import type { SuccessorCommand } from '../command.js';
import { DEFAULTS } from '../defaults.js';
import { startEnvironment } from '../environment.js';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import {
  type DrainReport,
  encodeManifest,
  errorFromWire,
  type HandedOverListener,
  listenerFd,
  MANIFEST_ENV,
  READY_BYTE,
  READY_FD,
  type RestartResult,
  type SupervisorMessage,
  type WorkerLoad,
  type WorkerMessage,
} from './protocol.js';

/** How a probation ended: the new generation lived through it, or died (then: roll back). */
export type Verdict = { passed: true } | { passed: false; error: GracefulRestartError };

/** A next generation that serves, and (with a probation) when this one may let go. */
export interface Handover {
  result: RestartResult;
  probation?: Promise<Verdict> | undefined;
  /** What this generation tells the one that took over (directly, or through the supervisor). */
  successor?: SuccessorMessenger | undefined;
}

/** The replaced generation's last words to the one that replaced it. */
export interface SuccessorMessenger {
  /** Its onHandOff() data (undefined: none). Sent once, right after the handover. */
  handOff(data: unknown): void;
  /** Its drain report, when the drain is done. */
  reportDrained(report: DrainReport): void;
}

export interface Successor {
  child: ChildProcess;
  pid: number;
  /** Our end of the successor's fd 3, paused and unref'd; a supervisor reads its messages. */
  channel: Socket;
}

export interface StartSuccessorOptions {
  command: SuccessorCommand;
  listeners: { listener: HandedOverListener; fd: number }[];
  readyTimeoutMs: number;
  /** Aborting stops the successor and rejects with RESTART_ABORTED. */
  signal?: AbortSignal;
  /** Started by the stable-PID supervisor: the worker asks it for restarts instead of spawning. */
  supervised?: boolean;
  /** How many workers accept on the same listeners (the supervisor's `--workers`). */
  workers?: number;
  /**
   * How the errors end, for who started it: what serves meanwhile, and the knob for a slow
   * start. Default (direct mode): "this generation keeps serving", `readyTimeoutMs`.
   */
  wording?: { meanwhile: string; readyTimeoutKnob: string };
}

/** Stops a successor that did not become ready: SIGTERM, then SIGKILL after a grace. */
function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), DEFAULTS.killGraceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * `env` with V8's compile cache on, in node's own default directory, unless the user set
 * NODE_COMPILE_CACHE or NODE_DISABLE_COMPILE_CACHE. node >= 22.1 then reuses the code compiled by
 * an earlier generation of the same files (keyed by their content), so a successor is ready
 * sooner; older versions ignore the variable.
 */
export function withCompileCache(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env['NODE_COMPILE_CACHE'] !== undefined || env['NODE_DISABLE_COMPILE_CACHE'] !== undefined) {
    return env;
  }
  return { ...env, NODE_COMPILE_CACHE: join(tmpdir(), 'node-compile-cache') };
}

/**
 * Spawns the next generation with the listening fds and waits for its ready byte. Rejects (and
 * stops the child) when it exits first, is not ready in time, or the restart is aborted.
 */
export function startSuccessor(options: StartSuccessorOptions): Promise<Successor> {
  const { command } = options;
  const listeners = options.listeners.map(({ listener }, i) => ({
    ...listener,
    fd: listenerFd(i),
  }));
  const env = {
    ...withCompileCache(command.env ?? startEnvironment()),
    [MANIFEST_ENV]: encodeManifest({
      version: 1,
      parentPid: process.pid,
      readyFd: READY_FD,
      listeners,
      ...(options.supervised ? { supervised: true } : {}),
      ...((options.workers ?? 1) > 1 ? { workers: options.workers } : {}),
    }),
  };
  let child: ChildProcess;
  try {
    child = spawn(command.execPath, command.args, {
      ...(command.argv0 === undefined ? {} : { argv0: command.argv0 }),
      cwd: command.cwd ?? process.cwd(),
      env,
      // stdio inherited: the child's output stays visible, and no pipe ties the parent to it.
      stdio: ['inherit', 'inherit', 'inherit', 'pipe', ...options.listeners.map((l) => l.fd)],
    });
  } catch (cause) {
    return Promise.reject(
      new GracefulRestartError(
        ErrorCodes.SPAWN_FAILED,
        `Cannot start the next generation (${command.execPath}): ${(cause as Error).message}. Check the command that starts it.`,
        { cause },
      ),
    );
  }
  const wording = options.wording ?? {
    meanwhile: 'this generation keeps serving',
    readyTimeoutKnob: 'readyTimeoutMs',
  };
  return new Promise<Successor>((resolve, reject) => {
    const readyPipe = child.stdio[READY_FD] as Socket;
    let settled = false;
    const timer = setTimeout(() => {
      fail(
        new GracefulRestartError(
          ErrorCodes.READY_TIMEOUT,
          `The next generation (pid ${child.pid}) did not become ready within ${options.readyTimeoutMs} ms; ` +
            `it was stopped and ${wording.meanwhile}. Raise ${wording.readyTimeoutKnob} if startup is slow.`,
        ),
      );
    }, options.readyTimeoutMs);
    const onAbort = () =>
      fail(
        new GracefulRestartError(
          ErrorCodes.RESTART_ABORTED,
          'The restart was aborted by a shutdown; the next generation was stopped.',
        ),
      );
    const cleanup = () => {
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      child.off('exit', onExit);
      child.off('error', onSpawnError);
      readyPipe.off('data', onData);
    };
    const fail = (error: GracefulRestartError) => {
      if (settled) return;
      cleanup();
      readyPipe.destroy();
      void stopChild(child).then(() => reject(error));
    };
    const onExit = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      fail(
        new GracefulRestartError(
          ErrorCodes.CHILD_EXITED,
          `The next generation (pid ${child.pid}) exited before it was ready (${
            signal ? `signal ${signal}` : `exit code ${exitCode}`
          }); ${wording.meanwhile}. Its own output above says why.`,
          { exitCode, signal },
        ),
      );
    };
    const onSpawnError = (cause: Error) =>
      fail(
        new GracefulRestartError(
          ErrorCodes.SPAWN_FAILED,
          `Cannot start the next generation (${command.execPath}): ${cause.message}. Check the command that starts it.`,
          { cause },
        ),
      );
    const onData = (chunk: Buffer) => {
      if (settled) return;
      cleanup();
      // Whatever followed the ready byte (a supervised worker's first message) stays readable.
      if (chunk.length > 1) readyPipe.unshift(chunk.subarray(1));
      // Keep our end open: the successor sees this generation's exit as EOF. Neither the pipe
      // nor the child may keep this process alive.
      readyPipe.on('error', () => undefined);
      readyPipe.pause();
      readyPipe.unref();
      child.unref();
      resolve({ child, pid: child.pid as number, channel: readyPipe });
    };
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('exit', onExit);
    child.once('error', onSpawnError);
    readyPipe.on('data', onData);
  });
}

/**
 * This generation's end of fd 3, towards the process that started it: it says ready there and
 * sees that process exit (EOF). Under the supervisor it also carries restart requests and their
 * outcome, one JSON line each way.
 */
export class PredecessorLink {
  private readonly socket: Socket;
  private readonly channel: LineChannel<SupervisorMessage, WorkerMessage>;
  private readonly exited: Promise<void>;
  private pendingRestart:
    | { resolve: (handover: Handover) => void; reject: (error: GracefulRestartError) => void }
    | undefined;
  /** Settles the probation of the handover under way (supervised). */
  private settleProbation: ((verdict: Verdict) => void) | undefined;
  /** Set by the generation: a handover the supervisor decided (its own SIGHUP or `reload`). */
  onUnrequestedHandover: ((handover: Handover) => void) | undefined;
  /** Set by the generation: the supervisor starts a reload (take what a rollback needs). */
  onPrepare: (() => void) | undefined;
  /** Set by the generation: a supervisor's reload failed; this worker keeps serving. */
  onRestartFailed: ((error: GracefulRestartError) => void) | undefined;
  /** Set by the generation: the supervisor stops; drain and exit. */
  onShutdown: (() => void) | undefined;
  /** Set by the generation: the restart that made it serve, as its predecessor measured it. */
  onTookOver: ((result: RestartResult) => void) | undefined;
  /** Set by the generation: the generation it replaced finished draining. */
  onPredecessorDrained: ((report: DrainReport) => void) | undefined;
  /** What the replaced generation handed off; undefined once it is gone without a word. */
  readonly handedOff: Promise<unknown>;

  constructor(
    fd: number,
    readonly supervised = false,
  ) {
    this.socket = new Socket({ fd, readable: true, writable: true });
    this.channel = new LineChannel(this.socket);
    let handedOff: (data: unknown) => void = () => undefined;
    this.handedOff = new Promise((resolve) => {
      handedOff = resolve;
    });
    let predecessorExited: () => void = () => undefined;
    this.exited = new Promise((resolve) => {
      predecessorExited = resolve;
      // Directly started: the previous generation's exit closes the pipe. Supervised: the
      // supervisor's exit does, and it also says when the replaced worker is gone.
      this.channel.once('close', () => resolve());
    });
    this.channel.on('message', (message) => {
      if (message.type === 'predecessor-exited') {
        predecessorExited();
        handedOff(undefined);
      } else if (message.type === 'handed-off') handedOff(message.data);
      else if (message.type === 'predecessor-drained') this.onPredecessorDrained?.(message.report);
      else if (message.type === 'handover') this.handover(message);
      else if (message.type === 'restart-failed') this.restartFailed(message);
      else if (message.type === 'prepare') this.onPrepare?.();
      else if (message.type === 'shutdown') this.onShutdown?.();
      else if (message.type === 'took-over') this.onTookOver?.(message.result);
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

  /** Tells the supervisor what this worker carries (status shows it). */
  sendLoad(load: WorkerLoad): void {
    this.channel.send({ type: 'load', ...load });
  }

  /** Resolves once the previous generation has exited (its end of the pipe closed). */
  waitForExit(): Promise<void> {
    return this.exited;
  }

  /** Resolves when the process that started this one is gone (EOF on fd 3). */
  onClose(listener: () => void): void {
    if (this.channel.isClosed) listener();
    else this.channel.once('close', listener);
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
      },
    };
    if (this.pendingRestart) this.pendingRestart.resolve(handover);
    else this.onUnrequestedHandover?.(handover);
  }

  private restartFailed(message: Extract<SupervisorMessage, { type: 'restart-failed' }>): void {
    const error = errorFromWire(message);
    if (this.pendingRestart) this.pendingRestart.reject(error);
    else this.onRestartFailed?.(error);
  }
}
