import { readFileSync } from 'node:fs';
import { ErrorCodes, GracefulRestartError } from './errors.js';

/**
 * Listening-socket handover needs fd passing to a child and Unix signals: Windows has neither
 * in a form node exposes.
 */
export function refuseUnsupportedPlatform(platform: NodeJS.Platform = process.platform): void {
  if (platform !== 'win32') return;
  throw new GracefulRestartError(
    ErrorCodes.PLATFORM_UNSUPPORTED,
    'graceful-restart runs on Linux and other Unix systems (macOS, FreeBSD): Windows cannot hand a ' +
      'listening socket to a child process through node. Run the server under WSL or in a Linux container.',
  );
}

/**
 * Whether process `pid` still runs: not gone, and not a zombie waiting to be reaped (its state
 * in /proc, where there is one; a container's PID 1 may never reap it).
 */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
}
