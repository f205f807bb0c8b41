import { spawnSync } from 'node:child_process';
import net, { isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { DEFAULTS } from '../defaults.js';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import type { HandedOverListener } from '../handover/manifest.js';
import type { Logger } from '../logger.js';
import {
  type ActivatedFd,
  hasDefaultName,
  takeSocketActivation,
  unmatchedActivation,
} from './activation.js';
import { backlogFor } from './backlog.js';
import { bindError, bindUnixRenamed, normalizeHost, removeUnixPath } from './bind.js';
import { adoptionError, checkSocketFd } from './fds.js';
import {
  checkUniqueName,
  describeHandedOver,
  describeSpec,
  isUnixSpec,
  type ListenerSpec,
  listenerName,
  type TcpListenerSpec,
  type UnixListenerSpec,
  validateSpec,
} from './spec.js';

/**
 * The supervisor's listening sockets. It must hold them without accepting: every connection
 * belongs to a worker, and while no worker runs (a crash) connections wait in the backlog.
 * node's public API cannot listen without accepting, so the socket is bound through the handle
 * factory node's own cluster module uses for shared handles (bind, no listen), and a short-lived
 * helper process calls listen(2) on it and exits before its event loop could accept anything.
 */
export interface HeldListener {
  /** What a worker's manifest says about it (the fd is the worker's, set at spawn). */
  entry: HandedOverListener;
  fd: number;
  /** Bound here (a Unix path we created and remove at exit), or taken from socket activation. */
  origin: 'bound' | 'socket-activation';
  close(): void;
}

interface RawHandle {
  fd: number;
  /** TCP handles only: node wraps a Unix socket in a pipe handle, which has neither. */
  getsockname?(out: Record<string, unknown>): number;
  getpeername?(out: Record<string, unknown>): number;
  close(): void;
}

type CreateServerHandle = (
  address: string | null,
  port: number,
  addressType: number,
  fd?: number,
  flags?: number,
) => RawHandle | number;

/** node's handle factory for shared server handles; NODE_UNSUPPORTED where it is missing. */
export function handleFactory(netModule: object = net): CreateServerHandle {
  const factory = (netModule as { _createServerHandle?: CreateServerHandle })._createServerHandle;
  if (typeof factory !== 'function') {
    throw new GracefulRestartError(
      ErrorCodes.NODE_UNSUPPORTED,
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

function holdTcp(spec: TcpListenerSpec, name: string): HeldListener {
  const host = spec.host ?? DEFAULTS.host;
  const handle = created(
    handleFactory()(host, Number(spec.port), isIP(host) === 6 ? 6 : 4),
    name,
    describeSpec(spec),
  );
  const held = heldTcp(handle, name, 'bound', backlogFor(spec.backlog));
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
function heldTcp(
  handle: RawHandle,
  name: string,
  origin: HeldListener['origin'],
  backlog: number,
): HeldListener {
  const address: Record<string, unknown> = {};
  handle.getsockname?.(address);
  return {
    entry: {
      name,
      kind: 'tcp',
      host: normalizeHost(String(address['address'] ?? '')),
      port: Number(address['port'] ?? 0),
      ...(origin === 'socket-activation' ? { activated: true } : {}),
      backlog,
    },
    fd: handle.fd,
    origin,
    close: () => handle.close(),
  };
}

async function holdUnix(spec: UnixListenerSpec, name: string): Promise<HeldListener> {
  const { bound: handle, ino } = await bindUnixRenamed(
    spec,
    name,
    (temp) => created(handleFactory()(temp, -1, -1), name, `unix:${spec.path}`),
    (handle) => handle.close(),
  );
  return {
    entry: { name, kind: 'unix', path: spec.path, ino, backlog: backlogFor(spec.backlog) },
    fd: handle.fd,
    origin: 'bound',
    close: () => {
      handle.close();
      void removeUnixPath(spec.path, ino);
    },
  };
}

/**
 * A socket-activated fd, named by LISTEN_FDNAMES or else by the next `--listen` name. Checked
 * in O(1) of the machine's sockets: fstat, the handle node picks for it (TCP, pipe, or none for
 * a datagram socket), and for TCP its addresses (a connected socket has a peer, an unbound one
 * port 0). A Unix socket's path is the same-named `--listen`'s, when one names it.
 */
function holdActivated(fd: number, name: string, spec: ListenerSpec | undefined): HeldListener {
  checkSocketFd(fd, name);
  const handle = handleFactory()(null, 0, 0, fd);
  if (typeof handle === 'number') {
    throw adoptionError(fd, undefined, name, {
      cause: Object.assign(new Error('not a stream socket'), { code: getSystemErrorName(handle) }),
    });
  }
  const backlog = backlogFor(spec?.backlog);
  if (typeof handle.getsockname !== 'function') {
    const path = spec && isUnixSpec(spec) ? spec.path : '';
    return {
      entry: { name, kind: 'unix', path, activated: true, backlog },
      fd,
      origin: 'socket-activation',
      close: () => handle.close(),
    };
  }
  const held = heldTcp(handle, name, 'socket-activation', backlog);
  if (held.entry.port === 0 || handle.getpeername?.({}) === 0) {
    handle.close();
    throw adoptionError(fd, undefined, name, {
      cause: Object.assign(new Error('connected or unbound'), { code: 'EINVAL' }),
    });
  }
  return held;
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
  const names: string[] = [];
  for (const spec of specs) {
    validateSpec(spec);
    checkUniqueName(names, listenerName(spec), 'cli');
    names.push(listenerName(spec));
  }
  const held: HeldListener[] = [];
  try {
    const activated = takeSocketActivation(env);
    if (specs.length === 0 && activated.length === 0) {
      throw new GracefulRestartError(
        ErrorCodes.NO_LISTENERS,
        'No listeners: give --listen name=host:port (or name=unix:/path), or start under socket activation.',
      );
    }
    for (const [fd, name] of nameActivated(activated, names, log)) {
      held.push(
        holdActivated(
          fd.fd,
          name,
          specs.find((spec) => listenerName(spec) === name),
        ),
      );
    }
    const toListen: HeldListener[] = [];
    for (const spec of specs) {
      const name = listenerName(spec);
      if (held.some((h) => h.entry.name === name)) continue;
      const listener = isUnixSpec(spec) ? await holdUnix(spec, name) : holdTcp(spec, name);
      held.push(listener);
      toListen.push(listener);
    }
    listenWithoutAccepting(toListen);
    for (const h of held) {
      log.info(
        `listener "${h.entry.name}" ${h.origin === 'bound' ? 'bound' : 'socket-activated'} on ${describeHandedOver(h.entry)}`,
      );
    }
    return held;
  } catch (error) {
    for (const h of held) h.close();
    throw error;
  }
}

/**
 * The listener name of each activated fd: its FileDescriptorName= when a `--listen` (or a
 * worker) may use it; an unnamed fd, or the one fd systemd named after its socket unit
 * (`app.socket`), takes the next `--listen` name without an fd, else the default name.
 * Several fds with systemd's default names are ambiguous: a typed error.
 */
function nameActivated(
  activated: ActivatedFd[],
  names: string[],
  log: Logger,
): [ActivatedFd, string][] {
  const own = (fd: ActivatedFd) => fd.name !== undefined && !hasDefaultName(fd);
  const taken = new Set(activated.flatMap((fd) => (own(fd) ? [fd.name as string] : [])));
  const targets = [...new Set([...names, DEFAULTS.listenerName])].filter(
    (name) => !taken.has(name),
  );
  const defaults = activated.filter((fd) => fd.name !== undefined && !own(fd));
  if (defaults.length > 1) {
    throw unmatchedActivation(defaults, names.length > 0 ? names : [DEFAULTS.listenerName]);
  }
  return activated.map((fd) => {
    if (own(fd)) return [fd, fd.name as string];
    const name = targets.shift() ?? `activated-${fd.fd}`;
    if (fd.name !== undefined) {
      log.info(
        `socket-activated fd ${fd.fd} is named "${fd.name}" (the socket unit's default name); ` +
          `held as listener "${name}" (FileDescriptorName=${name} in the unit names it)`,
      );
    }
    return [fd, name];
  });
}

/** listen(2) on bound sockets from a helper process that exits before it could accept. */
function listenWithoutAccepting(sockets: HeldListener[]): void {
  if (sockets.length === 0) return;
  // server.listen({ fd }) calls listen(2) synchronously; process.exit() runs before the loop polls.
  const script =
    "const net = require('node:net'); const backlogs = JSON.parse(process.argv[1]);" +
    // The backlog goes as the second argument: listen({ fd, backlog }) ignores it.
    'backlogs.forEach((backlog, i) => net.createServer().listen({ fd: 3 + i }, backlog));' +
    'process.exit(0);';
  const backlogs = JSON.stringify(sockets.map((s) => s.entry.backlog));
  const result = spawnSync(process.execPath, ['-e', script, backlogs], {
    stdio: ['ignore', 'ignore', 'pipe', ...sockets.map((s) => s.fd)],
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
