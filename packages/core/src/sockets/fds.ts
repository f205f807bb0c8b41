import { closeSync, fstatSync, readFileSync, readlinkSync } from 'node:fs';
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
    isSocket = fstatSync(fd, { bigint: true }).isSocket();
  } catch (cause) {
    throw new GracefulRestartError(
      ErrorCodes.FD_CLOSED,
      `Listener "${listener}": fd ${fd} is not open in this process. The previous generation or ` +
        'the service manager must pass it; check the spawn options or the socket unit.',
      { listener, fd, cause },
    );
  }
  if (isSocket) return;
  const link = readlinkTarget(fd);
  const target = link === undefined ? 'not a socket' : `${link}, not a socket`;
  throw new GracefulRestartError(
    ErrorCodes.FD_NOT_SOCKET,
    `Listener "${listener}": fd ${fd} is ${target}. Pass a listening socket's fd.`,
    { listener, fd },
  );
}

/** This process's soft open-file limit (`ulimit -n`), from /proc; 2^20 where it cannot be read. */
export function openFileLimit(): number {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(
      readFileSync('/proc/self/limits', 'utf8'),
    );
    if (line?.[1] && line[1] !== 'unlimited') return Number(line[1]);
  } catch {
    // no /proc
  }
  return 2 ** 20;
}

/**
 * The check of the manifest's ready fd (the pipe to the process that started this one): a
 * socket, or a typed error naming what it is instead.
 */
export function checkReadyFd(fd: number, variable: string): void {
  let what: string;
  try {
    // BigInt stats: on Node 22 a plain fstatSync() here, while the app still loads its modules,
    // made a later import() of a CommonJS package resolve through its symlinked path and fail.
    if (fstatSync(fd, { bigint: true }).isSocket()) return;
    what = `${readlinkTarget(fd) ?? 'something'}, not a socket`;
  } catch {
    what = 'not open';
  }
  throw new GracefulRestartError(
    ErrorCodes.MANIFEST_INVALID,
    `${variable} names fd ${fd} as the pipe to the process that started this one, but fd ${fd} is ${what}. ` +
      `graceful-restart sets ${variable} for the processes it starts; unset it if it came from elsewhere.`,
    { fd },
  );
}

function readlinkTarget(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
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
