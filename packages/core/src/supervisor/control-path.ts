/**
 * Where the control socket lives, and who owns it: the default location is a directory only its
 * user may enter, and neither the supervisor nor a client trusts a socket or directory another
 * user made (it may be there to intercept `stop` or to answer `status` with lies).
 */
import { lstat, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ErrorCodes, GracefulRestartError } from '../errors.js';

const CONTROL_ENV = 'GRACEFUL_RESTART_CONTROL';
const myUid = (): number => process.getuid?.() ?? -1;

/** The per-user directory in the temp dir the default socket goes in (when no runtime dir). */
function privateDefaultDir(): string {
  return join(tmpdir(), `graceful-restart-${process.getuid?.() ?? 'user'}`);
}

/**
 * `$GRACEFUL_RESTART_CONTROL`, else `$XDG_RUNTIME_DIR/graceful-restart.sock` (a directory of
 * this user's), else `control.sock` in a directory of this user's in the temp dir.
 */
export function defaultControlPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env[CONTROL_ENV]) return env[CONTROL_ENV];
  if (env['XDG_RUNTIME_DIR']) return join(env['XDG_RUNTIME_DIR'], 'graceful-restart.sock');
  return join(privateDefaultDir(), 'control.sock');
}

function unsafe(message: string): GracefulRestartError {
  return new GracefulRestartError(ErrorCodes.CONTROL_SOCKET_UNSAFE, message);
}

/**
 * Before the supervisor binds `path`: the default directory is made (mode 0700) or checked to
 * be this user's own and closed to others. Another user who made it first is refused, named.
 */
export async function prepareControlDirectory(path: string): Promise<void> {
  const dir = dirname(path);
  if (dir !== privateDefaultDir()) return;
  await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const stats = await lstat(dir);
  if (!stats.isDirectory() || stats.uid !== myUid() || (stats.mode & 0o077) !== 0) {
    const what = stats.isDirectory()
      ? `belongs to uid ${stats.uid} with mode ${(stats.mode & 0o777).toString(8)}`
      : 'is not a directory';
    throw unsafe(
      `The control socket's directory ${dir} ${what}; it must be this user's (uid ${myUid()}) with mode 700. ` +
        'Another user may have made it to intercept the control socket: remove it, or give --control PATH ' +
        `(or ${CONTROL_ENV}, or XDG_RUNTIME_DIR) in a directory of your own.`,
    );
  }
}

/**
 * Before a client talks to `path`: the socket must belong to this user or to root. Socket files
 * are owned by whoever bound them, so this is who answers.
 */
export async function checkControlOwner(path: string): Promise<void> {
  const stats = await lstat(path).catch(() => undefined);
  if (!stats) return; // nothing there: connecting says so
  if (stats.uid === myUid() || stats.uid === 0) return;
  throw unsafe(
    `The control socket ${path} belongs to uid ${stats.uid}, not to you (uid ${myUid()}) or root: ` +
      'what answers there is not your supervisor, so nothing was sent. Run the command as that user, ' +
      'or pass the socket of your own supervisor with --control PATH.',
  );
}

/** Who owns the socket file at `path`, when it is someone else's (for the supervisor's refusal). */
export async function foreignOwner(path: string): Promise<number | undefined> {
  const stats = await lstat(path).catch(() => undefined);
  return stats && stats.uid !== myUid() ? stats.uid : undefined;
}
