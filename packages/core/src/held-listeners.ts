import { spawnSync } from 'node:child_process';
import { chmod, rename, stat, unlink } from 'node:fs/promises';
import net, { isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { ErrorCodes, GracefulRestartError } from './errors.js';
import {
  bindError,
  checkUnixPathFree,
  DEFAULT_LISTENER_NAME,
  describeManifest,
  describeSpec,
  inspectFd,
  isUnixSpec,
  type ListenerSpec,
  type ManifestListener,
  normalizeHost,
  removeUnixPath,
  type TcpListenerSpec,
  takeSocketActivation,
  temporaryUnixPath,
  type UnixListenerSpec,
  validateSpec,
} from './listeners.js';
import type { Logger } from './logger.js';

/**
 * The supervisor's listening sockets. It must hold them without accepting: every connection
 * belongs to a worker, and while no worker runs (a crash) connections wait in the backlog.
 * node's public API cannot listen without accepting, so the socket is bound through the handle
 * factory node's own cluster module uses for shared handles (bind, no listen), and a short-lived
 * helper process calls listen(2) on it and exits before its event loop could accept anything.
 */
export interface HeldListener {
  /** What a worker's manifest says about it (the fd is the worker's, set at spawn). */
  entry: Omit<ManifestListener, 'fd'>;
  fd: number;
  /** Bound here (a Unix path we created and remove at exit), or taken from socket activation. */
  origin: 'bound' | 'socket-activation';
  close(): void;
}

interface RawHandle {
  fd: number;
  getsockname?(out: Record<string, unknown>): number;
  close(): void;
}

type CreateServerHandle = (
  address: string | null,
  port: number,
  addressType: number,
  fd?: number,
  flags?: number,
) => RawHandle | number;

function handleFactory(): CreateServerHandle {
  const factory = (net as unknown as { _createServerHandle?: CreateServerHandle })
    ._createServerHandle;
  if (typeof factory !== 'function') {
    throw new GracefulRestartError(
      ErrorCodes.SERVER_UNSUPPORTED,
      `This Node.js (${process.version}) has no net._createServerHandle, which the supervisor ` +
        'needs to hold sockets without accepting. Use Node 20.19+, 22 or 24.',
    );
  }
  return factory;
}

function created(result: RawHandle | number, name: string, where: string): RawHandle {
  if (typeof result !== 'number') return result;
  throw bindError(
    name,
    where,
    Object.assign(new Error(where), { code: getSystemErrorName(result) }),
  );
}

async function bindTcp(spec: TcpListenerSpec, name: string): Promise<HeldListener> {
  const host = spec.host ?? '127.0.0.1';
  const handle = created(
    handleFactory()(host, spec.port, isIP(host) === 6 ? 6 : 4),
    name,
    describeSpec(spec),
  );
  const held = heldTcp(handle, name, 'bound');
  // libuv defers a failed bind's EADDRINUSE to listen(), which the helper does on a bare fd:
  // there listen(2) would bind an unbound socket to a random port. An unbound socket has port 0.
  if (held.entry.port === 0 || (spec.port !== 0 && held.entry.port !== spec.port)) {
    held.close();
    throw bindError(
      name,
      describeSpec(spec),
      Object.assign(new Error('address in use'), { code: 'EADDRINUSE' }),
    );
  }
  return held;
}

/** A TCP socket held in `handle`, described by the address the kernel gave it. */
function heldTcp(handle: RawHandle, name: string, origin: HeldListener['origin']): HeldListener {
  const address: Record<string, unknown> = {};
  handle.getsockname?.(address);
  return {
    entry: {
      name,
      kind: 'tcp',
      host: normalizeHost(String(address['address'] ?? '')),
      port: Number(address['port'] ?? 0),
      ...(origin === 'socket-activation' ? { activated: true } : {}),
    },
    fd: handle.fd,
    origin,
    close: () => handle.close(),
  };
}

async function bindUnixHeld(spec: UnixListenerSpec, name: string): Promise<HeldListener> {
  await checkUnixPathFree(spec, name);
  const temp = temporaryUnixPath(spec.path);
  await unlink(temp).catch(() => undefined);
  const handle = created(handleFactory()(temp, -1, -1), name, `unix:${spec.path}`);
  try {
    if (spec.mode !== undefined) await chmod(temp, spec.mode);
    await rename(temp, spec.path);
  } catch (cause) {
    handle.close();
    await unlink(temp).catch(() => undefined);
    throw bindError(name, `unix:${spec.path}`, cause);
  }
  const ino = (await stat(spec.path)).ino;
  return {
    entry: { name, kind: 'unix', path: spec.path, ino },
    fd: handle.fd,
    origin: 'bound',
    close: () => {
      handle.close();
      void removeUnixPath(spec.path, ino);
    },
  };
}

/** A socket-activated fd, named by LISTEN_FDNAMES or else by the next `--listen` name. */
function adoptActivated(fd: number, name: string): HeldListener {
  const info = inspectFd(fd, name);
  if (info && !info.listening) {
    throw new GracefulRestartError(
      ErrorCodes.FD_NOT_LISTENING,
      `Socket-activated fd ${fd} ("${name}") is not a listening stream socket. Check the socket unit (ListenStream=).`,
      { listener: name, fd },
    );
  }
  if (info?.kind === 'unix') {
    return {
      entry: { name, kind: 'unix', path: info.path ?? '', activated: true },
      fd,
      origin: 'socket-activation',
      close: () => undefined,
    };
  }
  return heldTcp(
    created(handleFactory()(null, 0, 0, fd), name, `fd ${fd}`),
    name,
    'socket-activation',
  );
}

/**
 * Takes the socket-activated fds, binds every `--listen` not among them, and makes the bound
 * ones listen. On failure, whatever was bound is released again.
 */
export async function holdListeners(
  specs: ListenerSpec[],
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<HeldListener[]> {
  for (const spec of specs) validateSpec(spec);
  const names = specs.map((spec) => spec.name ?? DEFAULT_LISTENER_NAME);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) {
    throw new GracefulRestartError(
      ErrorCodes.DUPLICATE_LISTENER,
      `--listen names "${duplicate}" twice. Give each listener its own name (name=host:port).`,
      { listener: duplicate },
    );
  }
  const held: HeldListener[] = [];
  try {
    const activated = takeSocketActivation(env);
    const named = new Set(activated.flatMap((a) => (a.name ? [a.name] : [])));
    const unnamedTargets = [...names, DEFAULT_LISTENER_NAME].filter((name) => !named.has(name));
    for (const fd of activated) {
      const name = fd.name ?? unnamedTargets.shift() ?? `activated-${fd.fd}`;
      held.push(adoptActivated(fd.fd, name));
    }
    const toBind: HeldListener[] = [];
    for (const spec of specs) {
      const name = spec.name ?? DEFAULT_LISTENER_NAME;
      if (held.some((h) => h.entry.name === name)) continue;
      const listener = isUnixSpec(spec)
        ? await bindUnixHeld(spec, name)
        : await bindTcp(spec, name);
      held.push(listener);
      toBind.push(listener);
    }
    listenWithoutAccepting(toBind, specs);
    for (const h of held) {
      log.info(
        `listener "${h.entry.name}" ${h.origin === 'bound' ? 'bound' : 'socket-activated'} on ${describeManifest(h.entry)}`,
      );
    }
    return held;
  } catch (error) {
    for (const h of held) h.close();
    throw error;
  }
}

/** listen(2) on bound sockets from a helper process that exits before it could accept. */
function listenWithoutAccepting(listeners: HeldListener[], specs: ListenerSpec[]): void {
  if (listeners.length === 0) return;
  const backlogs = listeners.map(
    (l) => specs.find((s) => (s.name ?? DEFAULT_LISTENER_NAME) === l.entry.name)?.backlog ?? 511,
  );
  // server.listen({ fd }) calls listen(2) synchronously; process.exit() runs before the loop polls.
  const script =
    "const net = require('node:net'); const backlogs = JSON.parse(process.argv[1]);" +
    'backlogs.forEach((backlog, i) => net.createServer().listen({ fd: 3 + i, backlog }));' +
    'process.exit(0);';
  const result = spawnSync(process.execPath, ['-e', script, JSON.stringify(backlogs)], {
    stdio: ['ignore', 'ignore', 'pipe', ...listeners.map((l) => l.fd)],
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.status !== 0) {
    throw new GracefulRestartError(
      ErrorCodes.BIND_FAILED,
      `Cannot make the supervisor's sockets listen (helper ${
        result.error ? result.error.message : `exit code ${result.status}`
      }): ${String(result.stderr).trim().split('\n').at(-1) ?? ''}`,
    );
  }
}
