import { chmod, lstat, mkdtemp, rename, rm, stat, unlink } from 'node:fs/promises';
import { type Server as NetServer, connect as netConnect } from 'node:net';
import { dirname, join } from 'node:path';
import { DEFAULTS } from '../defaults.js';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import { backlogFor } from './backlog.js';
import { describeSpec, type TcpListenerSpec, type UnixListenerSpec } from './spec.js';

/**
 * server.listen() as a promise. `backlog` goes as listen()'s second argument: node ignores an
 * options object's `backlog` when it adopts an fd or a handle, and listens with 511.
 */
export function listenAsync(
  server: NetServer,
  options: Parameters<NetServer['listen']>[0],
  backlog?: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    try {
      if (backlog === undefined) server.listen(options);
      else server.listen(options, backlog);
    } catch (error) {
      server.off('error', onError);
      server.off('listening', onListening);
      reject(error);
    }
  });
}

export function bindError(name: string, where: string, cause: unknown): GracefulRestartError {
  if (cause instanceof GracefulRestartError) return cause;
  const code = (cause as NodeJS.ErrnoException).code ?? 'unknown error';
  const hint =
    code === 'EADDRINUSE'
      ? 'another process holds it: stop it, choose another port, or restart the running server with SIGHUP'
      : code === 'EACCES'
        ? 'permission denied: use a port above 1023 or give the process the right to bind'
        : code === 'EADDRNOTAVAIL'
          ? 'no interface has that address: check the host'
          : 'check the address';
  return new GracefulRestartError(
    ErrorCodes.BIND_FAILED,
    `Listener "${name}": cannot listen on ${where} (${code}): ${hint}.`,
    { listener: name, cause },
  );
}

/** A fresh TCP listener for `server`. */
export async function bindTcp(
  server: NetServer,
  spec: TcpListenerSpec,
  name: string,
): Promise<void> {
  const options = {
    port: spec.port,
    host: spec.host ?? DEFAULTS.host,
    ...(spec.ipv6Only === undefined ? {} : { ipv6Only: spec.ipv6Only }),
  };
  try {
    await listenAsync(server, options, backlogFor(spec.backlog));
  } catch (cause) {
    throw bindError(name, describeSpec(spec), cause);
  }
}

/**
 * Makes net.Server.address() answer `path` for a Unix socket bound under another name or
 * adopted by fd (node keeps it in an undocumented but long-stable field).
 */
export function setPipeName(server: NetServer, path: string): void {
  (server as unknown as { _pipeName?: string })._pipeName = path;
}

export function normalizeHost(host: string): string {
  if (host.startsWith('::ffff:')) return host.slice(7);
  return host;
}

/** The address a server listens on, as manifest fields. */
export function boundAddress(server: NetServer): { host: string; port: number } | undefined {
  const address = server.address();
  if (address === null || typeof address === 'string') return undefined;
  return { host: normalizeHost(address.address), port: address.port };
}

/** Resolves true when something accepts connections on `path`. */
function unixPathIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect(path);
    const done = (live: boolean) => {
      socket.destroy();
      resolve(live);
    };
    socket.once('connect', () => done(true));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code === 'EAGAIN'));
    socket.setTimeout(1000, () => done(true));
  });
}

/** Throws a typed error when `spec.path` exists and is not a stale socket file. */
async function checkUnixPathFree(spec: UnixListenerSpec, name: string): Promise<void> {
  const existing = await lstat(spec.path).catch(() => undefined);
  if (!existing) return;
  if (!existing.isSocket()) {
    throw new GracefulRestartError(
      ErrorCodes.UNIX_PATH_NOT_SOCKET,
      `Listener "${name}": ${spec.path} exists and is not a socket. Remove it or choose another path.`,
      { listener: name },
    );
  }
  if (await unixPathIsLive(spec.path)) {
    throw new GracefulRestartError(
      ErrorCodes.UNIX_PATH_IN_USE,
      `Listener "${name}": a live server already accepts on ${spec.path}. Stop it, or restart ` +
        'through it (SIGHUP) instead of starting a second copy.',
      { listener: name },
    );
  }
}

/**
 * The one Unix bind, for a generation's server and for the supervisor's held socket alike:
 * `bindAt` binds a temporary name in a private directory beside the path (no other user can
 * connect to it there), the mode is set, then the file is renamed into place. The path is never missing, a stale socket file from a crash is replaced
 * by the rename, a live one is refused. Bound to the temporary name, the creating process's
 * unlink at close misses, so the real path survives it. Resolves with the socket file's inode.
 */
export async function bindUnixRenamed<T>(
  spec: UnixListenerSpec,
  name: string,
  bindAt: (temp: string) => Promise<T> | T,
  release: (bound: T) => void,
): Promise<{ bound: T; ino: number }> {
  await checkUnixPathFree(spec, name);
  let bound: { value: T } | undefined;
  let privateDir: string | undefined;
  try {
    // Bound in a directory only this user may enter (mkdtemp: 0700), so that nobody reaches the
    // socket before its mode is set; then moved into place.
    // Short names: a socket path has at most 107 bytes.
    privateDir = await mkdtemp(join(dirname(spec.path), '.gr-'));
    const temp = join(privateDir, 's');
    bound = { value: await bindAt(temp) };
    if (spec.mode !== undefined) await chmod(temp, spec.mode);
    await rename(temp, spec.path);
  } catch (cause) {
    if (bound) release(bound.value);
    throw bindError(name, `unix:${spec.path}`, cause);
  } finally {
    if (privateDir) await rm(privateDir, { recursive: true, force: true });
  }
  return { bound: bound.value, ino: (await stat(spec.path)).ino };
}

/** A fresh Unix listener for `server`; resolves with the socket file's inode. */
export async function bindUnix(
  server: NetServer,
  spec: UnixListenerSpec,
  name: string,
): Promise<number> {
  const { ino } = await bindUnixRenamed(
    spec,
    name,
    (temp) => listenAsync(server, { path: temp }, backlogFor(spec.backlog)),
    () => {
      if (server.listening) server.close();
    },
  );
  setPipeName(server, spec.path);
  return ino;
}

/** Removes a Unix socket file on final shutdown, only if it is still the one we created. */
export async function removeUnixPath(path: string, ino: number | undefined): Promise<void> {
  const current = await stat(path).catch(() => undefined);
  if (current === undefined || (ino !== undefined && current.ino !== ino)) return;
  await unlink(path).catch(() => undefined);
}
