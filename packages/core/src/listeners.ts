import { closeSync, readFileSync, readlinkSync } from 'node:fs';
import { chmod, lstat, rename, stat, unlink } from 'node:fs/promises';
import { isIP, type Server as NetServer, connect as netConnect } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { ErrorCodes, GracefulRestartError } from './errors.js';

/** A TCP listener. `port: 0` picks an ephemeral port once; later generations keep it. */
export interface TcpListenerSpec {
  name?: string;
  port: number;
  /** Default `127.0.0.1`. Use `::` or `0.0.0.0` for all addresses. */
  host?: string;
  backlog?: number;
  ipv6Only?: boolean;
}

/** A Unix domain socket listener. */
export interface UnixListenerSpec {
  name?: string;
  path: string;
  /** File mode of the socket file, e.g. 0o660. Default: as the umask makes it. */
  mode?: number;
  backlog?: number;
}

export type ListenerSpec = TcpListenerSpec | UnixListenerSpec;

/** Where a listener's socket came from in this generation. */
export type ListenerOrigin = 'inherited' | 'socket-activation' | 'bound';

/** One listener as handed from a generation to the next. */
export interface ManifestListener {
  name: string;
  kind: 'tcp' | 'unix';
  fd: number;
  host?: string;
  port?: number;
  path?: string;
  /** Inode of the socket file, so a final shutdown removes only the file it owns. */
  ino?: number;
  /**
   * First taken from systemd socket activation: the socket unit owns its address, so later
   * generations adopt it by name whatever address their own configuration names.
   */
  activated?: boolean;
}

export interface Manifest {
  version: 1;
  /** The generation that wrote the manifest: a process whose parent is another ignores it. */
  parentPid: number;
  /** The fd the successor writes its ready byte to. */
  readyFd: number;
  listeners: ManifestListener[];
  /**
   * Written by the stable-PID supervisor (`graceful-restart run`): it owns the listeners, the
   * worker adopts them by name and asks it for restarts over `readyFd`.
   */
  supervised?: boolean;
}

export const MANIFEST_ENV = 'GRACEFUL_RESTART_MANIFEST';
/** The name a listener gets when none is given; every adapter uses it too. */
export const DEFAULT_LISTENER_NAME = 'web';
const LISTEN_FD_START = 3;

export function isUnixSpec(spec: ListenerSpec): spec is UnixListenerSpec {
  return typeof (spec as UnixListenerSpec).path === 'string';
}

export function validateSpec(spec: ListenerSpec): void {
  const name = spec.name ?? DEFAULT_LISTENER_NAME;
  const fail = (why: string) => {
    throw new GracefulRestartError(ErrorCodes.INVALID_LISTENER, `Listener "${name}": ${why}`, {
      listener: name,
    });
  };
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    fail('the name must be 1-64 characters of letters, digits, "_", "." or "-".');
  }
  if (isUnixSpec(spec)) {
    if (spec.path.length === 0) fail('the Unix socket path is empty; give an absolute path.');
    if (Buffer.byteLength(spec.path) > 100) {
      fail(`the Unix socket path is longer than 100 bytes (${spec.path}); use a shorter path.`);
    }
    if (
      spec.mode !== undefined &&
      (!Number.isInteger(spec.mode) || spec.mode < 0 || spec.mode > 0o777)
    ) {
      fail('mode must be an integer file mode between 0 and 0o777, e.g. 0o660.');
    }
    return;
  }
  const { port, host } = spec as TcpListenerSpec;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`port must be an integer from 0 to 65535 (got ${String(port)}); or give a Unix "path".`);
  }
  if (host !== undefined && (typeof host !== 'string' || host.length === 0)) {
    fail('host must be a non-empty string such as "127.0.0.1", "::1", "::" or "0.0.0.0".');
  }
  if (typeof host === 'string' && host.length > 0 && isIP(host) === 0) {
    // A name can resolve to several addresses (fastify binds both for "localhost"); a listener
    // hands over exactly one socket, so ambiguity is refused rather than half handed over.
    fail(
      `host "${host}" is a name, not an address, and may resolve to several (e.g. 127.0.0.1 and ::1). ` +
        'Declare one listener per address, e.g. { name: "web4", host: "127.0.0.1" } and { name: "web6", host: "::1" }.',
    );
  }
}

export function describeSpec(spec: ListenerSpec): string {
  if (isUnixSpec(spec)) return `unix:${spec.path}`;
  const host = spec.host ?? '127.0.0.1';
  return `${isIP(host) === 6 ? `[${host}]` : host}:${spec.port}`;
}

/** A listener as handed over (manifest entry or held socket): `host:port` or `unix:/path`. */
export function describeManifest(listener: Omit<ManifestListener, 'fd'>): string {
  return listener.kind === 'unix'
    ? `unix:${listener.path}`
    : describeSpec({ host: listener.host ?? '', port: listener.port ?? 0 });
}

function manifestError(why: string): GracefulRestartError {
  return new GracefulRestartError(
    ErrorCodes.MANIFEST_INVALID,
    `The handover manifest in ${MANIFEST_ENV} is invalid: ${why}. It is written by the previous ` +
      `generation; unset ${MANIFEST_ENV} to start fresh.`,
  );
}

export function encodeManifest(manifest: Manifest): string {
  return JSON.stringify(manifest);
}

/** Parses and checks a manifest; throws MANIFEST_INVALID naming what is wrong. */
export function decodeManifest(text: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw manifestError(`not JSON (${(cause as Error).message})`);
  }
  if (typeof value !== 'object' || value === null) throw manifestError('not an object');
  const m = value as Record<string, unknown>;
  if (m['version'] !== 1) throw manifestError(`unknown version ${JSON.stringify(m['version'])}`);
  const isFd = (fd: unknown): fd is number => Number.isInteger(fd) && (fd as number) >= 3;
  if (!Number.isInteger(m['parentPid'])) throw manifestError('parentPid is not an integer');
  if (!isFd(m['readyFd'])) throw manifestError('readyFd is not an fd >= 3');
  if (!Array.isArray(m['listeners'])) throw manifestError('listeners is not an array');
  const names = new Set<string>();
  const listeners = (m['listeners'] as unknown[]).map((entry, i): ManifestListener => {
    if (typeof entry !== 'object' || entry === null)
      throw manifestError(`listener ${i} is not an object`);
    const l = entry as Record<string, unknown>;
    if (typeof l['name'] !== 'string') throw manifestError(`listener ${i} has no name`);
    if (names.has(l['name'])) throw manifestError(`listener "${l['name']}" appears twice`);
    names.add(l['name']);
    if (!isFd(l['fd'])) throw manifestError(`listener "${l['name']}" has no fd >= 3`);
    if (l['kind'] === 'tcp') {
      if (typeof l['host'] !== 'string' || !Number.isInteger(l['port'])) {
        throw manifestError(`tcp listener "${l['name']}" needs host and port`);
      }
      const out: ManifestListener = {
        name: l['name'],
        kind: 'tcp',
        fd: l['fd'],
        host: l['host'],
        port: l['port'] as number,
      };
      if (l['activated'] === true) out.activated = true;
      return out;
    }
    if (l['kind'] === 'unix') {
      if (typeof l['path'] !== 'string')
        throw manifestError(`unix listener "${l['name']}" needs a path`);
      const out: ManifestListener = { name: l['name'], kind: 'unix', fd: l['fd'], path: l['path'] };
      if (Number.isInteger(l['ino'])) out.ino = l['ino'] as number;
      if (l['activated'] === true) out.activated = true;
      return out;
    }
    throw manifestError(`listener "${l['name']}" has unknown kind ${JSON.stringify(l['kind'])}`);
  });
  return {
    version: 1,
    parentPid: m['parentPid'] as number,
    readyFd: m['readyFd'] as number,
    listeners,
    ...(m['supervised'] === true ? { supervised: true } : {}),
  };
}

/**
 * What a listening fd is, read from /proc (Linux). `undefined` where /proc is not available:
 * then the fd is checked by adopting it and reading its address.
 */
type FdInfo = { kind: 'tcp' | 'unix' | 'other'; listening: boolean; path?: string } | undefined;

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

export function inspectFd(fd: number, listener: string): FdInfo {
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

/** Throws a typed error unless `fd` is a listening socket of `kind`. */
export function checkListeningFd(fd: number, kind: 'tcp' | 'unix', listener: string): void {
  const info = inspectFd(fd, listener);
  if (info === undefined) return;
  if (info.kind !== kind || !info.listening) {
    const what =
      info.kind === 'other'
        ? 'not a TCP or Unix stream socket'
        : `a ${info.kind} socket that ${info.listening ? 'listens' : 'does not listen'}`;
    throw new GracefulRestartError(
      ErrorCodes.FD_NOT_LISTENING,
      `Listener "${listener}": fd ${fd} is ${what}; a listening ${kind} socket was expected. ` +
        'Declare the listener with the kind the previous generation or socket unit provides.',
      { listener, fd },
    );
  }
}

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
  const nameList = names === undefined ? [] : names.split(':');
  if (names !== undefined && nameList.length !== n) {
    throw new GracefulRestartError(
      ErrorCodes.SOCKET_ACTIVATION_INVALID,
      `LISTEN_FDNAMES has ${nameList.length} names for ${n} fds. Give one FileDescriptorName per socket.`,
    );
  }
  return Array.from({ length: n }, (_, i) => ({
    fd: LISTEN_FD_START + i,
    name: nameList[i] === undefined || nameList[i] === 'unknown' ? undefined : nameList[i],
  }));
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

export function listenAsync(
  server: NetServer,
  options: Parameters<NetServer['listen']>[0],
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
      server.listen(options);
    } catch (error) {
      server.off('error', onError);
      server.off('listening', onListening);
      reject(error);
    }
  });
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

/**
 * Binds a Unix socket without a window in which the path is missing or unlinkable by us later:
 * bind a temporary name in the same directory, set the mode, then rename it into place. A stale
 * socket file from a crash is replaced by the rename; a live one is refused.
 */
export async function bindUnix(
  server: NetServer,
  spec: UnixListenerSpec,
  name: string,
): Promise<number> {
  await checkUnixPathFree(spec, name);
  // The creating process unlinks its bound name on close: bound to the temporary name, that
  // unlink misses, and the real path survives this generation.
  const temp = temporaryUnixPath(spec.path);
  await unlink(temp).catch(() => undefined);
  try {
    await listenAsync(server, {
      path: temp,
      ...(spec.backlog === undefined ? {} : { backlog: spec.backlog }),
    });
    if (spec.mode !== undefined) await chmod(temp, spec.mode);
    await rename(temp, spec.path);
    setPipeName(server, spec.path);
  } catch (cause) {
    await unlink(temp).catch(() => undefined);
    if (server.listening) server.close();
    throw bindError(name, `unix:${spec.path}`, cause);
  }
  return (await stat(spec.path)).ino;
}

/** Where a Unix socket is bound before it is renamed into place. */
export function temporaryUnixPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

/** Throws a typed error when `spec.path` exists and is not a stale socket file. */
export async function checkUnixPathFree(spec: UnixListenerSpec, name: string): Promise<void> {
  const existing = await lstat(spec.path).catch(() => undefined);
  if (existing) {
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

/** Removes a Unix socket file on final shutdown, only if it is still the one we created. */
export async function removeUnixPath(path: string, ino: number | undefined): Promise<void> {
  const current = await stat(path).catch(() => undefined);
  if (current === undefined || (ino !== undefined && current.ino !== ino)) return;
  await unlink(path).catch(() => undefined);
}
