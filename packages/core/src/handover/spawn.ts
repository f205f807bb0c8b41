import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SuccessorCommand } from '../command.js';
import { DEFAULTS } from '../defaults.js';
import { startEnvironment } from '../environment.js';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import {
  encodeManifest,
  type HandedOverListener,
  listenerFd,
  MANIFEST_ENV,
  READY_FD,
} from './manifest.js';

export interface Successor {
  child: ChildProcess;
  pid: number;
  /** Our end of the successor's fd 3, paused and unref'd; a supervisor reads its messages. */
  channel: Socket;
}

interface StartSuccessorOptions {
  command: SuccessorCommand;
  listeners: { listener: HandedOverListener; fd: number }[];
  readyTimeoutMs: number;
  /** Aborting stops the successor and rejects with RESTART_ABORTED. */
  signal?: AbortSignal;
  /** Started by the stable-PID supervisor: the worker asks it for restarts instead of spawning. */
  supervised?: boolean;
  /** How many workers accept on the same listeners (the supervisor's `--workers`). */
  workers?: number;
  /** A crash handover: when the crash handovers so far happened (see Manifest.crashes). */
  crashes?: number[];
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
function withCompileCache(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env['NODE_COMPILE_CACHE'] !== undefined || env['NODE_DISABLE_COMPILE_CACHE'] !== undefined) {
    return env;
  }
  return { ...env, NODE_COMPILE_CACHE: join(tmpdir(), 'node-compile-cache') };
}

/** What to do about the resources a refused spawn names. */
const SPAWN_FIXES: Record<string, string> = {
  EMFILE:
    'this process has too many open files: raise its limit (ulimit -n, LimitNOFILE= in the unit)',
  ENFILE: 'the system has too many open files (fs.file-max)',
  EAGAIN: 'no more processes may be created (ulimit -u, TasksMax= in the unit)',
  ENOMEM: 'there is not enough memory to start another process',
};

/** The typed error of a next generation that could not be started; this one serves on. */
function spawnFailed(execPath: string, cause: Error): GracefulRestartError {
  const code = (cause as NodeJS.ErrnoException).code;
  const fix = (code && SPAWN_FIXES[code]) ?? 'check the command that starts it';
  return new GracefulRestartError(
    ErrorCodes.SPAWN_FAILED,
    `Cannot start the next generation (${execPath}): ${cause.message}; ${fix}. A restart may be tried again once that is fixed.`,
    { cause },
  );
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
      ...(options.crashes ? { crashes: options.crashes } : {}),
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
    return Promise.reject(spawnFailed(command.execPath, cause as Error));
  }
  if (child.pid === undefined || !child.stdio?.[READY_FD]) {
    // The kernel refused the process (out of fds, processes or memory): node says why on the
    // next tick, as an 'error' event that must not go unheard.
    return new Promise((_, reject) => {
      child.once('error', (cause) => reject(spawnFailed(command.execPath, cause)));
      setImmediate(() =>
        reject(spawnFailed(command.execPath, new Error('no process was created'))),
      );
    });
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
    const onSpawnError = (cause: Error) => fail(spawnFailed(command.execPath, cause));
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
