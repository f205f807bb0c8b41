import { closeSync, openSync } from 'node:fs';
import { isatty } from 'node:tty';

/** True when this process can open its controlling terminal. */
function hasControllingTerminal(): boolean {
  try {
    closeSync(openSync('/dev/tty', 'r'));
    return true;
  } catch {
    return false;
  }
}

/** Whether this process started with a controlling terminal. */
const startedOnTerminal = hasControllingTerminal();

/**
 * True when this process started with a controlling terminal and has lost it: a SIGHUP now is
 * the terminal hanging up (closed window, ended ssh session), not a request to restart. The
 * kernel detaches the session from its terminal before it sends the hangup, so a `kill -HUP`
 * from another shell, with the terminal still open, is told apart.
 */
export function terminalHungUp(): boolean {
  return startedOnTerminal && !hasControllingTerminal();
}

/** True when someone is at the keyboard: stdin is a terminal (Ctrl-C reaches this process). */
export function atKeyboard(): boolean {
  return isatty(0);
}

/**
 * After a hangup, every write to the terminal fails with EIO: the app's logs (and ours) must
 * not crash the drain with an unhandled stream error.
 */
export function ignoreDeadTerminal(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (!stream.isTTY) continue;
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EIO' && error.code !== 'EPIPE') throw error;
    });
  }
}
