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

let guarded = false;

/**
 * On a terminal, from the start: once it has hung up every write to it fails (EIO), and the
 * app's logs (and ours) must not crash the drain with an unhandled stream error. A write can fail
 * before the SIGHUP that tells of the hangup is handled (a child in the same process group dies
 * of the same hangup, and is logged first): the guard is in place before. Other errors, and any
 * error while the terminal is there, are thrown as without it.
 */
export function guardTerminalWrites(): void {
  if (guarded || !startedOnTerminal) return;
  guarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      const deadTerminal = error.code === 'EIO' || error.code === 'EPIPE';
      if (!deadTerminal || !terminalHungUp()) throw error;
    });
  }
}
