import { isIP } from 'node:net';
import { DEFAULTS } from '../defaults.js';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import type { HandedOverListener } from '../handover/manifest.js';
import { describeValue } from '../option-names.js';

/** A TCP listener. `port: 0` picks an ephemeral port once; later generations keep it. */
export interface TcpListenerSpec {
  name?: string;
  /** A number, or a string of digits as environment variables give it (`process.env.PORT`). */
  port: number | string;
  /** Default `127.0.0.1`. Use `::` or `0.0.0.0` for all addresses. */
  host?: string;
  /** listen(2) queue length, kept across restarts. Default: net.core.somaxconn, at least 1024. */
  backlog?: number;
  ipv6Only?: boolean;
}

/** A Unix domain socket listener. */
export interface UnixListenerSpec {
  name?: string;
  path: string;
  /** File mode of the socket file, e.g. 0o660. Default: as the umask makes it. */
  mode?: number;
  /** listen(2) queue length, kept across restarts. Default: net.core.somaxconn, at least 1024. */
  backlog?: number;
}

export type ListenerSpec = TcpListenerSpec | UnixListenerSpec;

/** Where a listener's socket came from in this generation. */
export type ListenerOrigin = 'inherited' | 'socket-activation' | 'bound';

export function isUnixSpec(spec: ListenerSpec): spec is UnixListenerSpec {
  return typeof (spec as UnixListenerSpec).path === 'string';
}

export function listenerName(spec: ListenerSpec): string {
  return spec.name ?? DEFAULTS.listenerName;
}

/** Where a listener was declared: the fix an error names is spelt the way it was declared. */
type DeclaredIn = 'code' | 'cli';

export function validateSpec(spec: ListenerSpec, declaredIn: DeclaredIn = 'code'): void {
  const name = listenerName(spec);
  const fail = (why: string) => {
    throw new GracefulRestartError(ErrorCodes.INVALID_LISTENER, `Listener "${name}": ${why}`, {
      listener: name,
    });
  };
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    fail('the name must be 1-64 characters of letters, digits, "_", "." or "-".');
  }
  const { backlog } = spec;
  if (
    backlog !== undefined &&
    (!Number.isInteger(backlog) || (backlog as number) < 1 || (backlog as number) > 65_535)
  ) {
    fail(
      `backlog must be an integer from 1 to 65535 (got ${describeValue(backlog)}); leave it out for net.core.somaxconn.`,
    );
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
  const { port: given, host } = spec as TcpListenerSpec;
  const port = portNumber(given);
  if (port === undefined) {
    fail(
      `port must be an integer from 0 to 65535, or a string of its digits (got ${describeValue(given)}); or give a Unix "path".`,
    );
  }
  if (host !== undefined && (typeof host !== 'string' || host.length === 0)) {
    fail('host must be a non-empty string such as "127.0.0.1", "::1", "::" or "0.0.0.0".');
  }
  if (typeof host === 'string' && host.length > 0 && isIP(host) === 0) {
    // A name can resolve to several addresses (fastify binds both for "localhost"); a listener
    // hands over exactly one socket, so ambiguity is refused rather than half handed over.
    fail(
      `host "${host}" is a name, not an address, and may resolve to several (e.g. 127.0.0.1 and ::1). ` +
        (declaredIn === 'cli'
          ? 'Give one --listen per address, e.g. --listen web4=127.0.0.1:3000 --listen web6=[::1]:3000.'
          : 'Declare one listener per address, e.g. { name: "web4", host: "127.0.0.1" } and { name: "web6", host: "::1" }.'),
    );
  }
}

/** A port as `listen()` takes it: an integer, or a string of digits; undefined when it is neither. */
function portNumber(port: unknown): number | undefined {
  const value = typeof port === 'string' && /^\d{1,5}$/.test(port.trim()) ? Number(port) : port;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535
    ? value
    : undefined;
}

/** `spec`, checked, with a port given as a string of digits turned into its number. */
export function normalizeSpec<T extends ListenerSpec>(spec: T, declaredIn: DeclaredIn = 'code'): T {
  validateSpec(spec, declaredIn);
  if (isUnixSpec(spec)) return spec;
  return { ...spec, port: portNumber((spec as TcpListenerSpec).port) as number };
}

/**
 * Throws DUPLICATE_LISTENER when `name` is among `taken`. `how` says how the user declared it
 * (the fix differs between code and the command line).
 */
export function checkUniqueName(taken: Iterable<string>, name: string, how: 'code' | 'cli'): void {
  for (const existing of taken) {
    if (existing !== name) continue;
    throw new GracefulRestartError(
      ErrorCodes.DUPLICATE_LISTENER,
      how === 'code'
        ? `Listener "${name}" is declared twice. Give each listener its own name.`
        : `--listen names "${name}" twice. Give each listener its own name (name=host:port).`,
      { listener: name },
    );
  }
}

export function describeSpec(spec: ListenerSpec): string {
  if (isUnixSpec(spec)) return `unix:${spec.path}`;
  const host = spec.host ?? DEFAULTS.host;
  return `${isIP(host) === 6 ? `[${host}]` : host}:${spec.port}`;
}

/** A listener as handed over (manifest entry or held socket): `host:port` or `unix:/path`. */
export function describeHandedOver(listener: HandedOverListener): string {
  return listener.kind === 'unix'
    ? listener.path
      ? `unix:${listener.path}`
      : "the socket unit's Unix socket"
    : describeSpec({ host: listener.host ?? '', port: listener.port ?? 0 });
}

/** True when a handed-over listener is the one `spec` asks for (port 0 keeps the inherited port). */
export function sameAddress(listener: HandedOverListener, spec: ListenerSpec): boolean {
  if (isUnixSpec(spec)) return listener.kind === 'unix' && listener.path === spec.path;
  if (listener.kind !== 'tcp') return false;
  const host = spec.host ?? DEFAULTS.host;
  return listener.host === host && (spec.port === 0 || spec.port === listener.port);
}
