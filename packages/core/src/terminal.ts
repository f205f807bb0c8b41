import { closeSync, openSync } from 'node:fs';
import { isatty } from 'node:tty';

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

/**
 * After a hangup, every write to the terminal fails with EIO: the app's logs (and ours) must
 * not crash the drain with an unhandled stream error.
 */
export function ignoreDeadTerminal(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EIO' && error.code !== 'EPIPE') throw error;
    });
  }
}
