import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { DEFAULTS } from '../defaults.js';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import { normalizeHost } from '../sockets/bind.js';
import type { AdminRequest } from './request.js';

export const TOKEN_ENV = 'GRACEFUL_RESTART_TOKEN';
const MIN_TOKEN_BYTES = 32;
/** Bounds the failure table: the oldest address is forgotten first. */
const MAX_TRACKED_ADDRESSES = 10_000;

/** Who may use the admin route: the options that decide it (see AdminOptions). */
export interface AccessOptions {
  token?: string | undefined;
  allow?: string[] | undefined;
  trustProxy?: boolean | number | undefined;
  rateLimit?: { max: number; windowMs: number } | undefined;
}

/**
 * Who may use the admin route: the caller's address (allow list, trusted proxies), a bearer
 * secret compared in constant time and never kept in the clear, and a failure rate limit per
 * address.
 */
export class AdminAccess {
  private readonly digest: Buffer;
  private readonly allow: BlockList;
  private readonly proxyHops: number;
  private readonly limit: { max: number; windowMs: number };
  private readonly failures = new Map<string, { count: number; resetAt: number }>();

  constructor(options: AccessOptions, env: NodeJS.ProcessEnv) {
    const token = options.token ?? env[TOKEN_ENV];
    if (typeof token !== 'string' || Buffer.byteLength(token) < MIN_TOKEN_BYTES) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_OPTION,
        `The admin route needs a secret of at least ${MIN_TOKEN_BYTES} bytes${token === undefined || token === '' ? '' : ' (the one given is shorter)'}: ` +
          `set ${TOKEN_ENV} or the admin "token" option, e.g. to the output of \`openssl rand -hex 32\`. Or leave the admin route off.`,
      );
    }
    this.digest = sha256(token);
    this.allow = allowList(options.allow ?? [...DEFAULTS.adminAllow]);
    this.proxyHops =
      options.trustProxy === true ? 1 : options.trustProxy ? Number(options.trustProxy) : 0;
    if (!Number.isInteger(this.proxyHops) || this.proxyHops < 0) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_OPTION,
        'admin.trustProxy must be false, true or a whole number of proxies in front.',
      );
    }
    this.limit = options.rateLimit ?? DEFAULTS.adminRateLimit;
    if (!Number.isInteger(this.limit.max) || this.limit.max < 1 || !(this.limit.windowMs > 0)) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_OPTION,
        'admin.rateLimit needs a whole max >= 1 and a windowMs > 0, e.g. { max: 10, windowMs: 60000 }.',
      );
    }
  }

  /** The caller's address, when the allow list lets it in. */
  allowedClient(request: AdminRequest): string | undefined {
    const client = this.clientAddress(request);
    const family = client ? isIP(client) : 0;
    if (!client || family === 0) return undefined;
    return this.allow.check(client, family === 6 ? 'ipv6' : 'ipv4') ? client : undefined;
  }

  authorized(header: string | undefined): boolean {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
    // Both sides hashed: equal lengths for timingSafeEqual, whatever the length given.
    return timingSafeEqual(sha256(match?.[1] ?? ''), this.digest) && match !== null;
  }

  private clientAddress(request: AdminRequest): string | undefined {
    if (this.proxyHops > 0 && request.forwardedFor) {
      const hops = request.forwardedFor.split(',').map((entry) => entry.trim());
      const entry = hops[hops.length - this.proxyHops];
      if (entry && isIP(entry)) return normalizeHost(entry);
    }
    return request.remoteAddress ? normalizeHost(request.remoteAddress) : undefined;
  }

  /** The failure entry that keeps `client` out until its `resetAt`, if any. */
  limitedFor(client: string, now: number): { count: number; resetAt: number } | undefined {
    const entry = this.failures.get(client);
    if (!entry) return undefined;
    if (entry.resetAt <= now) {
      this.failures.delete(client);
      return undefined;
    }
    return entry.count >= this.limit.max ? entry : undefined;
  }

  recordFailure(client: string, now: number): void {
    const entry = this.failures.get(client);
    if (entry && entry.resetAt > now) {
      entry.count++;
      return;
    }
    if (this.failures.size >= MAX_TRACKED_ADDRESSES) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    this.failures.set(client, { count: 1, resetAt: now + this.limit.windowMs });
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function allowList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefixText] = entry.split('/');
    const family = isIP(address);
    const prefix = prefixText === undefined ? (family === 6 ? 128 : 32) : Number(prefixText);
    if (
      family === 0 ||
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > (family === 6 ? 128 : 32)
    ) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_OPTION,
        `admin.allow: "${entry}" is not an address or CIDR such as "10.0.0.0/8" or "::1/128".`,
      );
    }
    list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}
