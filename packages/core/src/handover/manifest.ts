/**
 * What a generation hands to the next besides the fds: the manifest (in an environment variable)
 * and the fd layout of a spawned generation. Pure: no I/O here.
 */
import { ErrorCodes, GracefulRestartError } from '../errors.js';

/** The ready pipe is the successor's fd 3: it writes one byte there once it serves. */
export const READY_FD = 3;
export const READY_BYTE = 'R';
/** The successor's fd for the i-th handed-over listener: they follow the ready pipe. */
export function listenerFd(index: number): number {
  return READY_FD + 1 + index;
}

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
  /** The listen(2) backlog it listens with: the next generation listens with it again. */
  backlog?: number;
}

/** A listener as its holder describes it before the receiving fd is known. */
export type HandedOverListener = Omit<ManifestListener, 'fd'>;

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
  /** Under `graceful-restart run --workers N` (N > 1): how many workers accept on the listeners. */
  workers?: number;
  /**
   * Written by a generation that crashed and handed over: when the crash handovers of this
   * line of generations happened (epoch ms, recent ones only), for the crash budget.
   */
  crashes?: number[];
}

export const MANIFEST_ENV = 'GRACEFUL_RESTART_MANIFEST';

/** A short list of times (epoch ms); anything else is ignored rather than refused. */
const isTimes = (value: unknown): value is number[] =>
  Array.isArray(value) && value.length <= 100 && value.every((t) => Number.isFinite(t));

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
  const isBacklog = (n: unknown): n is number => Number.isInteger(n) && (n as number) > 0;
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
      if (isBacklog(l['backlog'])) out.backlog = l['backlog'];
      return out;
    }
    if (l['kind'] === 'unix') {
      if (typeof l['path'] !== 'string')
        throw manifestError(`unix listener "${l['name']}" needs a path`);
      const out: ManifestListener = { name: l['name'], kind: 'unix', fd: l['fd'], path: l['path'] };
      if (Number.isInteger(l['ino'])) out.ino = l['ino'] as number;
      if (l['activated'] === true) out.activated = true;
      if (isBacklog(l['backlog'])) out.backlog = l['backlog'];
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
    ...(Number.isInteger(m['workers']) && (m['workers'] as number) > 1
      ? { workers: m['workers'] as number }
      : {}),
    ...(isTimes(m['crashes']) ? { crashes: m['crashes'] } : {}),
  };
}
