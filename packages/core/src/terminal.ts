import fs, { closeSync, openSync } from 'node:fs';
import { isatty } from 'node:tty';
import { promisify } from 'node:util';

const onATerminal = (): boolean => [0, 1, 2].some((fd) => isatty(fd));

/** Whether this process started with a terminal on stdin, stdout or stderr. */
const startedOnTerminal = onATerminal();

/**
 * True when this process started on a terminal and the terminal has hung up (closed window,
 * ended ssh session): a hung-up terminal is no terminal any more to isatty(). A SIGHUP then is
 * the hangup, not a request to restart; a `kill -HUP` while the terminal is open still restarts.
 */
export function terminalHungUp(): boolean {
  return startedOnTerminal && !onATerminal();
}

/** True when someone is at the keyboard: stdin is a terminal (Ctrl-C reaches this process). */
export function atKeyboard(): boolean {
  return isatty(0);
}

/** True while this process's session still has its controlling terminal. */
export function hasControllingTerminal(): boolean {
  try {
    closeSync(openSync('/dev/tty', 'r'));
    return true;
  } catch {
    return false;
  }
}

let guarded = false;

/** True for the error of a write to stdout or stderr once their terminal has hung up. */
function deadTerminalWrite(fd: unknown, error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return (fd === 1 || fd === 2) && (code === 'EIO' || code === 'EPIPE') && terminalHungUp();
}

/**
 * On a terminal, from the start: once it has hung up every write to it fails (EIO), and the
 * app's logs (and ours) must not crash, block or spin the drain. Two paths reach the terminal:
 * - process.stdout/stderr (console, winston's console transport, `process.stdout.write`): their
 *   stream error is ignored;
 * - fs.write/fs.writeSync on fds 1 and 2 (pino's sonic-boom, sync and async): the write counts
 *   as done. sonic-boom would otherwise retry a failed write forever in its flushSync() (on
 *   `fatal`, and at the exit), and rethrow it from a log call.
 * A write can fail before the SIGHUP that tells of the hangup is handled (a child in the same
 * process group dies of the same hangup, and is logged first): the guard is in place before.
 * Other errors, other fds, and any error while the terminal is there, are thrown as without it.
 */
export function guardTerminalWrites(): void {
  if (guarded || !startedOnTerminal) return;
  guarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (!deadTerminalWrite(stream.fd, error)) throw error;
    });
  }
  const { writeSync, write } = fs;
  fs.writeSync = function (this: unknown, fd: number, buffer: unknown, ...rest: unknown[]) {
    try {
      return (writeSync as (...args: unknown[]) => number).call(this, fd, buffer, ...rest);
    } catch (error) {
      if (!deadTerminalWrite(fd, error)) throw error;
      return bytesAsked(buffer, rest);
    }
  } as typeof fs.writeSync;
  const patchedWrite = function (this: unknown, fd: number, buffer: unknown, ...rest: unknown[]) {
    const callback = rest.pop() as (
      error: Error | null,
      written?: number,
      buffer?: unknown,
    ) => void;
    const length = bytesAsked(buffer, rest);
    return (write as (...args: unknown[]) => void).call(
      this,
      fd,
      buffer,
      ...rest,
      (error: Error | null, ...results: unknown[]) => {
        if (error && deadTerminalWrite(fd, error)) callback(null, length, buffer);
        else callback(error, ...(results as [number, unknown]));
      },
    );
  };
  // util.promisify(fs.write) keeps node's own promise form.
  const custom = (write as unknown as Record<symbol, unknown>)[promisify.custom];
  Object.defineProperty(patchedWrite, promisify.custom, { value: custom });
  fs.write = patchedWrite as unknown as typeof fs.write;
}

/** The bytes a write asked for: the whole string or buffer, or its `length` argument. */
function bytesAsked(buffer: unknown, rest: unknown[]): number {
  if (typeof buffer === 'string') return Buffer.byteLength(buffer);
  const length = rest[1];
  return typeof length === 'number' ? length : (buffer as Uint8Array).length;
}
