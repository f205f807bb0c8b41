import { closeSync, readFileSync, readlinkSync } from 'node:fs';
import type { Server as NetServer } from 'node:net';
import { ErrorCodes, GracefulRestartError } from '../errors.js';

/**
 * What a listening fd is, read from /proc (Linux). `undefined` where /proc is not available:
 * then the fd is checked by adopting it and reading its address.
 */
export type FdInfo =
  | { kind: 'tcp' | 'unix' | 'other'; listening: boolean; path?: string }
  | undefined;

function socketInode(fd: number, listener: string): string | undefined {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EBADF') {
      throw new GracefulRestartError(
        ErrorCodes.FD_CLOSED,
        `Listener "${listener}": fd ${fd} is not open in this process. The previous generation or ` +
          'the service manager must pass it; check the spawn options or the socket unit.',
        { listener, fd, cause },
      );
    }
    return undefined; // no /proc: cannot tell here
  }
  const match = /^socket:\[(\d+)\]$/.exec(target);
  if (!match) {
    throw new GracefulRestartError(
      ErrorCodes.FD_NOT_SOCKET,
      `Listener "${listener}": fd ${fd} is ${target}, not a socket. Pass a listening socket's fd.`,
      { listener, fd },
    );
  }
  return match[1];
}

function readProc(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function inspectFd(fd: number, listener: string): FdInfo {
  const inode = socketInode(fd, listener);
  if (inode === undefined) return undefined;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readProc(file).split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[9] === inode) return { kind: 'tcp', listening: cols[3] === '0A' };
    }
  }
  for (const line of readProc('/proc/net/unix').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // Flags 00010000 is __SO_ACCEPTCON: a listening socket. Type 0001 is SOCK_STREAM.
    if (cols[6] === inode) {
      const listening = cols[3] === '00010000' && cols[4] === '0001';
      return cols[7] ? { kind: 'unix', listening, path: cols[7] } : { kind: 'unix', listening };
    }
  }
  return { kind: 'other', listening: false };
}

/**
 * The one check of a received fd: throws a typed error unless it is open, a socket, listening,
 * and (when `kind` is given) of that kind. Returns what /proc says of it.
 */
export function checkListeningFd(
  fd: number,
  kind: 'tcp' | 'unix' | undefined,
  listener: string,
): FdInfo {
  const info = inspectFd(fd, listener);
  if (info === undefined) return info;
  if ((kind !== undefined && info.kind !== kind) || !info.listening) {
    const what =
      info.kind === 'other'
        ? 'not a TCP or Unix stream socket'
        : `a ${info.kind} socket that ${info.listening ? 'listens' : 'does not listen'}`;
    const expected =
      kind === undefined ? 'a listening stream socket' : `a listening ${kind} socket`;
    throw new GracefulRestartError(
      ErrorCodes.FD_NOT_LISTENING,
      `Listener "${listener}": fd ${fd} is ${what}; ${expected} was expected. ` +
        'Declare the listener with the kind the previous generation or socket unit provides ' +
        '(a socket unit needs ListenStream=).',
      { listener, fd },
    );
  }
  return info;
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
