import type { Server as NetServer } from 'node:net';
import { DEFAULTS } from '../defaults.js';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import type { HandedOverListener, ManifestListener } from '../handover/manifest.js';
import type { Logger } from '../logger.js';
import { backlogFor } from './backlog.js';
import {
  bindTcp,
  bindUnix,
  boundAddress,
  listenAsync,
  removeUnixPath,
  setPipeName,
} from './bind.js';
import { duplicateListeningFds, type HeldHandle, listenOnHeld } from './duplicate.js';
import { adoptionError, checkSocketFd, serverFd } from './fds.js';
import type { Inheritance } from './inheritance.js';
import {
  checkUniqueName,
  describeSpec,
  isUnixSpec,
  type ListenerOrigin,
  type ListenerSpec,
  listenerName,
} from './spec.js';
import { spreadAcceptBursts } from './spread.js';

export interface ListenerInfo {
  name: string;
  origin: ListenerOrigin;
  /** `host:port` or `unix:/path`. */
  address: string;
  port?: number;
}

interface Acquired {
  spec: ListenerSpec;
  server: NetServer;
  info: ListenerInfo;
  /** Inode of the socket file, so a final shutdown removes only the file it owns. */
  unixIno?: number;
  /** Came from socket activation, in this generation or an earlier one. */
  activated?: boolean;
  /** The listen(2) backlog it listens with, handed on so the next generation keeps it. */
  backlog: number;
}

/**
 * Where one generation's listening sockets come from, decided in one place: inherited from the
 * previous generation (or the supervisor), else socket-activated, else bound fresh. Also what
 * this generation hands to the next, and what it removes on a final shutdown.
 */
export class GenerationSockets {
  private readonly acquired = new Map<string, Acquired>();

  constructor(
    private readonly inheritance: Inheritance,
    private readonly log: Logger,
  ) {}

  /** The listeners of this generation, in declaration order. */
  get endpoints(): ListenerInfo[] {
    return [...this.acquired.values()].map((a) => a.info);
  }

  /** Throws DUPLICATE_LISTENER when a listener of this name was declared already. */
  checkNewName(name: string): void {
    checkUniqueName(this.acquired.keys(), name, 'code');
  }

  /** Makes `server` listen for the (validated) `spec`. */
  async acquire(server: NetServer, spec: ListenerSpec): Promise<ListenerInfo> {
    const name = listenerName(spec);
    const acquired: Acquired = {
      spec,
      server,
      info: { name, origin: 'bound', address: '' },
      backlog: backlogFor(spec.backlog),
    };
    const inherited = this.inheritance.claim(name, spec, this.log);
    if (!inherited && this.inheritance.supervised) {
      const held = this.inheritance.manifestNames().join(', ') || 'none';
      throw new GracefulRestartError(
        ErrorCodes.LISTENER_NOT_SUPERVISED,
        `Listener "${name}" is not held by the supervisor (it holds: ${held}). Add ` +
          `--listen ${name}=${describeSpec(spec)} to \`graceful-restart run\`.`,
        { listener: name },
      );
    }
    const activatedFd = inherited ? undefined : this.inheritance.claimActivated(name, this.log);
    if (inherited) {
      // The manifest says what the fd is: no lookup in the machine's socket tables.
      acquired.backlog = backlogFor(spec.backlog, inherited.backlog);
      await adopt(server, inherited.fd, name, spec, acquired.backlog);
      if (this.inheritance.acceptingWorkers > 1) spreadAcceptBursts(server);
      if (inherited.kind === 'tcp') checkInheritedAddress(server, inherited, name);
      acquired.info.origin = 'inherited';
      if (inherited.ino !== undefined) acquired.unixIno = inherited.ino;
      if (inherited.activated) acquired.activated = true;
    } else if (activatedFd !== undefined) {
      await adopt(server, activatedFd, name, spec, acquired.backlog);
      acquired.info.origin = 'socket-activation';
      acquired.activated = true;
    } else if (isUnixSpec(spec)) {
      acquired.unixIno = await bindUnix(server, spec, name);
    } else {
      await bindTcp(server, spec, name);
    }
    const address = boundAddress(server);
    acquired.info.address = describeSpec(
      address ? { host: address.host, port: address.port } : spec,
    );
    if (address) acquired.info.port = address.port;
    this.acquired.set(name, acquired);
    this.log.info(`listener "${name}" ${acquired.info.origin} on ${acquired.info.address}`);
    return acquired.info;
  }

  /** At ready(): every received fd no listener claimed is closed. */
  closeUnclaimed(): void {
    this.inheritance.closeUnclaimed(this.log);
  }

  /** What the next generation receives: each listener's manifest entry and this process's fd. */
  handOver(): { listener: HandedOverListener; fd: number }[] {
    return [...this.acquired.values()].map((a) => ({
      listener: manifestEntry(a),
      fd: serverFd(a.server),
    }));
  }

  /** True while every acquired server listens (none closed by its owner). */
  allListening(): boolean {
    return [...this.acquired.values()].every((a) => a.server.listening);
  }

  /** Duplicates of every listener's socket, held without accepting: what a rollback needs. */
  holdDuplicates(signal?: AbortSignal): Promise<HeldHandle[]> {
    const fds = [...this.acquired.values()].map((a) => serverFd(a.server));
    return duplicateListeningFds(fds, signal);
  }

  /** A rollback: every listener listens again on its held duplicate, in declaration order. */
  async listenAgain(held: HeldHandle[]): Promise<void> {
    for (const [i, a] of [...this.acquired.values()].entries()) {
      const handle = held[i];
      if (!handle) continue;
      if (isUnixSpec(a.spec)) setPipeName(a.server, a.spec.path);
      await listenOnHeld(a.server, handle, a.backlog);
    }
  }

  /**
   * On a final shutdown: removes the Unix socket files this generation owns. A supervised
   * worker owns none: the supervisor's paths outlive every worker.
   */
  async removeOwnedPaths(): Promise<void> {
    if (this.inheritance.supervised) return;
    for (const a of this.acquired.values()) {
      if (isUnixSpec(a.spec)) await removeUnixPath(a.spec.path, a.unixIno);
    }
  }
}

/**
 * Listens on a received fd with `backlog`. Every check costs O(1) in the machine's sockets: one
 * fstat, then listen(2) itself refuses a connected or datagram socket, and the handle node
 * chose (TCP or pipe) gives the kind.
 */
async function adopt(
  server: NetServer,
  fd: number,
  name: string,
  spec: ListenerSpec,
  backlog: number,
): Promise<void> {
  const kind = isUnixSpec(spec) ? 'unix' : 'tcp';
  checkSocketFd(fd, name);
  // A Unix socket adopted by fd has no path in node, so server.address() would be null
  // (frameworks log it at 'listening'): name it as a fresh bind would.
  if (kind === 'unix') setPipeName(server, (spec as { path: string }).path);
  try {
    await listenAsync(server, { fd }, backlog);
  } catch (cause) {
    throw adoptionError(fd, kind, name, { cause });
  }
  const address = server.address();
  const actual = typeof address === 'object' && address !== null ? 'tcp' : 'unix';
  if (actual !== kind) {
    server.close();
    throw adoptionError(fd, kind, name, { actual });
  }
}

function checkInheritedAddress(server: NetServer, expected: ManifestListener, name: string): void {
  const actual = boundAddress(server);
  if (actual && (actual.port !== expected.port || actual.host !== expected.host)) {
    server.close();
    throw new GracefulRestartError(
      ErrorCodes.FD_ADDRESS_MISMATCH,
      `Listener "${name}": inherited fd ${expected.fd} listens on ${actual.host}:${actual.port}, ` +
        `but the manifest says ${expected.host}:${expected.port}. Restart from a clean start.`,
      { listener: name, fd: expected.fd },
    );
  }
}

function manifestEntry(a: Acquired): HandedOverListener {
  const activated = a.activated ? { activated: true } : {};
  if (isUnixSpec(a.spec)) {
    return {
      name: a.info.name,
      kind: 'unix',
      path: a.spec.path,
      ...(a.unixIno === undefined ? {} : { ino: a.unixIno }),
      ...activated,
      backlog: a.backlog,
    };
  }
  const address = boundAddress(a.server);
  return {
    name: a.info.name,
    kind: 'tcp',
    host: address?.host ?? a.spec.host ?? DEFAULTS.host,
    port: address?.port ?? Number(a.spec.port),
    ...activated,
    backlog: a.backlog,
  };
}
