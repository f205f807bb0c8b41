import { type ChildProcess, spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { ErrorCodes, GracefulRestartError } from './errors.js';
import { encodeManifest, MANIFEST_ENV, type ManifestListener } from './listeners.js';

/** The command that starts the next generation. */
export interface SuccessorCommand {
  /** Default: `process.execPath`. */
  execPath: string;
  /** Default: `[...process.execArgv, ...process.argv.slice(1)]`. */
  args: string[];
  /** Default: `process.cwd()`. A new release directory, for example. */
  cwd?: string;
  /** Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
}

export function currentCommand(): SuccessorCommand {
  return { execPath: process.execPath, args: [...process.execArgv, ...process.argv.slice(1)] };
}

/** The ready pipe is the successor's fd 3; listener fds follow it. */
const READY_FD = 3;
const READY_BYTE = 'R';
/** After SIGTERM, a successor that does not exit within this is killed. */
const KILL_GRACE_MS = 2000;

export interface Successor {
  child: ChildProcess;
  pid: number;
}

export interface StartSuccessorOptions {
  command: SuccessorCommand;
  listeners: { listener: Omit<ManifestListener, 'fd'>; fd: number }[];
  readyTimeoutMs: number;
  /** Aborting stops the successor and rejects with RESTART_ABORTED. */
  signal?: AbortSignal;
}

/** Stops a successor that did not become ready: SIGTERM, then SIGKILL after a grace. */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Spawns the next generation with the listening fds and waits for its ready byte. Rejects (and
 * stops the child) when it exits first, is not ready in time, or the restart is aborted.
 */
export function startSuccessor(options: StartSuccessorOptions): Promise<Successor> {
  const { command } = options;
  const listeners = options.listeners.map(({ listener }, i) => ({
    ...listener,
    fd: READY_FD + 1 + i,
  }));
  const env = {
    ...(command.env ?? process.env),
    [MANIFEST_ENV]: encodeManifest({
      version: 1,
      parentPid: process.pid,
      readyFd: READY_FD,
      listeners,
    }),
  };
  let child: ChildProcess;
  try {
    child = spawn(command.execPath, command.args, {
      cwd: command.cwd ?? process.cwd(),
      env,
      // stdio inherited: the child's output stays visible, and no pipe ties the parent to it.
      stdio: ['inherit', 'inherit', 'inherit', 'pipe', ...options.listeners.map((l) => l.fd)],
    });
  } catch (cause) {
    return Promise.reject(
      new GracefulRestartError(
        ErrorCodes.SPAWN_FAILED,
        `Cannot start the next generation (${command.execPath}): ${(cause as Error).message}. Check the command option.`,
        { cause },
      ),
    );
  }
  return new Promise<Successor>((resolve, reject) => {
    const readyPipe = child.stdio[READY_FD] as Socket;
    let settled = false;
    const timer = setTimeout(() => {
      fail(
        new GracefulRestartError(
          ErrorCodes.READY_TIMEOUT,
          `The next generation (pid ${child.pid}) did not become ready within ${options.readyTimeoutMs} ms; ` +
            'it was stopped and this generation keeps serving. Raise readyTimeoutMs if startup is slow.',
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
          }); this generation keeps serving. Its own output above says why.`,
          { exitCode, signal },
        ),
      );
    };
    const onSpawnError = (cause: Error) =>
      fail(
        new GracefulRestartError(
          ErrorCodes.SPAWN_FAILED,
          `Cannot start the next generation (${command.execPath}): ${cause.message}. Check the command option.`,
          { cause },
        ),
      );
    const onData = () => {
      if (settled) return;
      cleanup();
      // Keep our end open: the successor sees this generation's exit as EOF. Neither the pipe
      // nor the child may keep this process alive.
      readyPipe.on('error', () => undefined);
      readyPipe.pause();
      readyPipe.unref();
      child.unref();
      resolve({ child, pid: child.pid as number });
    };
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('exit', onExit);
    child.once('error', onSpawnError);
    readyPipe.on('data', onData);
  });
}

/** The successor's end of the ready pipe: says ready, and sees the previous generation exit. */
export class PredecessorLink {
  private readonly socket: Socket;
  private readonly exited: Promise<void>;

  constructor(fd: number) {
    this.socket = new Socket({ fd, readable: true, writable: true });
    this.socket.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.once('end', () => {
        this.socket.destroy();
        resolve();
      });
    });
    this.socket.resume();
    this.socket.unref();
  }

  sendReady(): Promise<void> {
    return new Promise((resolve) => this.socket.write(READY_BYTE, () => resolve()));
  }

  /** Resolves once the previous generation has exited (its end of the pipe closed). */
  waitForExit(): Promise<void> {
    return this.exited;
  }
}
