import { closeSync, fstatSync, readlinkSync } from 'node:fs';
import type { Server as NetServer } from 'node:net';
import { ErrorCodes, GracefulRestartError } from '../errors.js';

/**
 * The check of a received fd before it is adopted: throws a typed error unless it is open and a
 * socket. One fstat(2), so a handover costs the same however many connections the machine has;
 * whether it listens, and its kind, show when it is adopted (see `adoptionError`).
 */
export function checkSocketFd(fd: number, listener: string): void {
  let isSocket: boolean;
  try {
    isSocket = fstatSync(fd).isSocket();
  } catch (cause) {
    throw new GracefulRestartError(
      ErrorCodes.FD_CLOSED,
      `Listener "${listener}": fd ${fd} is not open in this process. The previous generation or ` +
        'the service manager must pass it; check the spawn options or the socket unit.',
      { listener, fd, cause },
    );
  }
  if (isSocket) return;
  let target = 'not a socket';
  try {
    target = `${readlinkSync(`/proc/self/fd/${fd}`)}, not a socket`;
  } catch {
    // no /proc: the plain words do
  }
  throw new GracefulRestartError(
    ErrorCodes.FD_NOT_SOCKET,
    `Listener "${listener}": fd ${fd} is ${target}. Pass a listening socket's fd.`,
    { listener, fd },
  );
}

/**
 * The typed error for a socket fd that cannot serve as a listener of `kind`: listen(2) refused it
 * (`cause`: a connected or datagram socket), or it is of the other kind (`actual`).
 */
export function adoptionError(
  fd: number,
  kind: 'tcp' | 'unix' | undefined,
  listener: string,
  found: { cause: unknown } | { actual: 'tcp' | 'unix' },
): GracefulRestartError {
  const expected = kind === undefined ? 'a listening stream socket' : `a listening ${kind} socket`;
  const what =
    'actual' in found
      ? `a ${found.actual} socket`
      : `a socket that does not listen (${(found.cause as NodeJS.ErrnoException).code ?? (found.cause as Error).message}: a connected or datagram socket)`;
  return new GracefulRestartError(
    ErrorCodes.FD_NOT_LISTENING,
    `Listener "${listener}": fd ${fd} is ${what}; ${expected} was expected. Declare the ` +
      'listener with the kind the previous generation or socket unit provides (a socket unit ' +
      'needs ListenStream= and Accept=no).',
    { listener, fd, ...('cause' in found ? { cause: found.cause } : {}) },
  );
}

/** The fd of a listening server's socket: node keeps it on the handle (undocumented, stable on Unix). */
export function serverFd(server: NetServer): number {
  const fd = (server as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new GracefulRestartError(
      ErrorCodes.SERVER_UNSUPPORTED,
      'Cannot read the listening fd of this server: it is not listening, or this platform does ' +
        'not expose fds (Windows is not supported).',
    );
  }
  return fd;
}

export function closeFdQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
