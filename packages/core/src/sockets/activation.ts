import { ErrorCodes, GracefulRestartError } from '../errors.js';
import { openFileLimit } from './fds.js';

/** sd_listen_fds(3): activated fds start at 3. */
const LISTEN_FDS_START = 3;

export interface ActivatedFd {
  fd: number;
  name: string | undefined;
}

/**
 * Reads systemd socket activation (sd_listen_fds semantics) and removes its variables from the
 * environment, so that processes this one spawns do not take the fds for theirs.
 */
export function takeSocketActivation(env: NodeJS.ProcessEnv = process.env): ActivatedFd[] {
  const pid = env['LISTEN_PID'];
  const count = env['LISTEN_FDS'];
  const names = env['LISTEN_FDNAMES'];
  if (pid === undefined && count === undefined) return [];
  delete env['LISTEN_PID'];
  delete env['LISTEN_FDS'];
  delete env['LISTEN_FDNAMES'];
  if (pid !== undefined && pid !== String(process.pid)) {
    throw new GracefulRestartError(
      ErrorCodes.LISTEN_PID_MISMATCH,
      `LISTEN_PID is ${pid} but this process is ${process.pid}: the activated sockets belong to ` +
        'another process. Start the app directly under the socket unit (or systemd-socket-activate), ' +
        'or unset LISTEN_PID and LISTEN_FDS.',
    );
  }
  if (count === undefined || !/^\d+$/.test(count)) {
    throw new GracefulRestartError(
      ErrorCodes.SOCKET_ACTIVATION_INVALID,
      `LISTEN_FDS must be a non-negative integer (got ${JSON.stringify(count)}). Fix the socket unit or unset LISTEN_FDS.`,
    );
  }
  const n = Number(count);
  // Refused before anything loops over them: systemd never passes more than the fd limit.
  const limit = openFileLimit();
  if (n > limit - LISTEN_FDS_START) {
    throw new GracefulRestartError(
      ErrorCodes.SOCKET_ACTIVATION_INVALID,
      `LISTEN_FDS is ${count}, more fds than this process may have open (its open-file limit is ${limit}). ` +
        'Fix the socket unit, or unset LISTEN_FDS and LISTEN_PID.',
    );
  }
  const nameList = names === undefined ? [] : names.split(':');
  if (names !== undefined && nameList.length !== n) {
    throw new GracefulRestartError(
      ErrorCodes.SOCKET_ACTIVATION_INVALID,
      `LISTEN_FDNAMES has ${nameList.length} names for ${n} fds. Give one FileDescriptorName per socket.`,
    );
  }
  return Array.from({ length: n }, (_, i) => ({
    fd: LISTEN_FDS_START + i,
    name: nameList[i] === undefined || nameList[i] === 'unknown' ? undefined : nameList[i],
  }));
}

/**
 * True when systemd chose the fd's name: none given, or the socket unit's own name
 * (`app.socket`), which it uses unless the unit sets FileDescriptorName=.
 */
export function hasDefaultName(fd: ActivatedFd): boolean {
  return fd.name === undefined || fd.name.endsWith('.socket');
}

/** Activated fds and listeners that cannot be matched: the typed error that names the fix. */
export function unmatchedActivation(fds: ActivatedFd[], listeners: string[]): GracefulRestartError {
  const fdList = fds.map((fd) => `fd ${fd.fd} (${fd.name ?? 'unnamed'})`).join(', ');
  const names = listeners.map((name) => `"${name}"`).join(', ');
  return new GracefulRestartError(
    ErrorCodes.SOCKET_ACTIVATION_UNMATCHED,
    `Socket activation passed ${fdList}, which cannot be matched to the listeners ${names} ` +
      'by name. Name each socket after its listener with FileDescriptorName= in the socket unit ' +
      `(e.g. FileDescriptorName=${listeners[0] ?? 'web'}), or declare one listener per activated socket.`,
  );
}
