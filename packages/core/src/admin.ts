import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { DEFAULTS } from './defaults.js';
import { ErrorCodes, GracefulRestartError, isGracefulRestartError } from './errors.js';
import type { Graceful } from './generation/graceful.js';
import type { Logger } from './logger.js';
import { checkOptionNames } from './option-names.js';
import { normalizeHost } from './sockets/bind.js';

export const TOKEN_ENV = 'GRACEFUL_RESTART_TOKEN';
const MIN_TOKEN_BYTES = 32;

export interface AdminOptions {
  /** The bearer secret, at least 32 bytes. Default: the GRACEFUL_RESTART_TOKEN variable. */
  token?: string | undefined;
  /** Where the route is mounted; the status route is `${path}/status`. Default `/graceful`. */
  path?: string | undefined;
  /** Addresses (CIDRs or single addresses) allowed to call. Default loopback only. */
  allow?: string[] | undefined;
  /**
   * Take the caller's address from `X-Forwarded-For`, set by this many proxies in front (`true`
   * is 1): the address that many entries from the right. Default false: the socket's peer.
   * Only turn it on behind a proxy that overwrites the header, or anyone can claim any address.
   */
  trustProxy?: boolean | number | undefined;
  /** Failed attempts allowed per address and window; then 429 until the window ends. Default 10 per 60000 ms. */
  rateLimit?: { max: number; windowMs: number } | undefined;
}

/** What an adapter hands over of a request: no body, which is never read. */
export interface AdminRequest {
  method: string;
  /** The URL's path, without the query. */
  path: string;
  /** The value of `wait` in the query string, if any. */
  wait?: string | null | undefined;
  /** Several values when the request repeated the header (refused: 400). */
  authorization?: string | string[] | undefined;
  forwardedFor?: string | undefined;
  remoteAddress?: string | undefined;
}

export interface AdminResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** The one error shape every adapter answers with. */
function failure(
  statusCode: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): AdminResponse {
  return { statusCode, headers, body: { error: { code, message } } };
}

/** Bounds the failure table: the oldest address is forgotten first. */
const MAX_TRACKED_ADDRESSES = 10_000;

/**
 * The authenticated restart trigger, once for every adapter: `POST <path>` restarts,
 * `GET <path>/status` reports. The secret is compared in constant time and never logged,
 * echoed or put in an error.
 */
export class AdminRoute {
  readonly path: string;
  readonly statusPath: string;
  private readonly digest: Buffer;
  private readonly allow: BlockList;
  private readonly proxyHops: number;
  private readonly limit: { max: number; windowMs: number };
  private readonly failures = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly graceful: Graceful,
    options: AdminOptions,
    private readonly log: Logger,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    checkOptionNames(options, ['token', 'path', 'allow', 'trustProxy', 'rateLimit'], 'admin.');
    const token = options.token ?? env[TOKEN_ENV];
    if (typeof token !== 'string' || Buffer.byteLength(token) < MIN_TOKEN_BYTES) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_OPTION,
        `The admin route needs a secret of at least ${MIN_TOKEN_BYTES} bytes${token === undefined || token === '' ? '' : ' (the one given is shorter)'}: ` +
          `set ${TOKEN_ENV} or the admin "token" option, e.g. to the output of \`openssl rand -hex 32\`. Or leave the admin route off.`,
      );
    }
    this.digest = sha256(token);
    this.path = normalizePath(options.path ?? DEFAULTS.adminPath);
    this.statusPath = `${this.path === '/' ? '' : this.path}/status`;
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

  /** True for the paths this route answers (every method: others get 405). */
  matches(path: string): boolean {
    return path === this.path || path === this.statusPath;
  }

  async handle(request: AdminRequest): Promise<AdminResponse> {
    const client = this.clientAddress(request);
    if (!client || !this.allowed(client)) {
      return failure(403, 'forbidden', 'This address may not use the admin route.');
    }
    const now = Date.now();
    const limited = this.limitedFor(client, now);
    if (limited) {
      return failure(429, 'too_many_requests', 'Too many failed attempts from this address.', {
        'retry-after': String(Math.ceil((limited.resetAt - now) / 1000)),
      });
    }
    const isStatus = request.path === this.statusPath;
    const method = isStatus ? 'GET' : 'POST';
    if (request.method !== method && !(isStatus && request.method === 'HEAD')) {
      return failure(405, 'method_not_allowed', `Use ${method}.`, { allow: method });
    }
    if (Array.isArray(request.authorization)) {
      // node keeps the first of repeated headers: a second one must not ride along unseen.
      this.recordFailure(client, now);
      this.log.warn(
        `admin route: refused a request from ${client} with several Authorization headers`,
      );
      return failure(400, 'bad_request', 'Send exactly one Authorization header.');
    }
    if (!this.authorized(request.authorization)) {
      this.recordFailure(client, now);
      this.log.warn(`admin route: refused a request from ${client} without a valid token`);
      return failure(401, 'unauthorized', 'A valid "Authorization: Bearer <token>" is required.', {
        'www-authenticate': 'Bearer',
      });
    }
    return isStatus ? this.status() : this.restart(request.wait === 'true' || request.wait === '1');
  }

  /** Serves a node:http request when it is for this route; false when it is not. */
  async serveNode(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!this.matches(url.pathname)) return false;
    // The body is never read, only drained so that the connection stays usable.
    req.resume();
    const answer = await this.handle(fromNode(req, url));
    res.writeHead(answer.statusCode, { ...answer.headers, 'content-type': 'application/json' });
    res.end(JSON.stringify(answer.body));
    return true;
  }

  private status(): AdminResponse {
    const last = this.graceful.lastRestart;
    return {
      statusCode: 200,
      headers: {},
      body: {
        state: this.graceful.state,
        pid: this.graceful.pid,
        uptimeMs: this.graceful.uptimeMs,
        lastRestart: last
          ? last.ok
            ? { ok: true, ...last.result }
            : { ok: false, error: { code: last.error.code, message: last.error.message } }
          : null,
      },
    };
  }

  private async restart(wait: boolean): Promise<AdminResponse> {
    const state = this.graceful.state;
    if (state !== 'serving') {
      return failure(409, 'conflict', `A restart cannot start now: the server is ${state}.`);
    }
    // Checked and started in one synchronous step: concurrent requests see "restarting".
    const attempt = this.graceful.restart();
    this.log.info('admin route: restart requested');
    if (!wait) {
      attempt.catch(() => undefined); // reported through the restart-failed event and the log
      return {
        statusCode: 202,
        headers: {},
        body: { state: this.graceful.state, pid: this.graceful.pid },
      };
    }
    try {
      return { statusCode: 200, headers: {}, body: { ...(await attempt) } };
    } catch (error) {
      if (!isGracefulRestartError(error)) throw error;
      if (error.code === ErrorCodes.INVALID_STATE) return failure(409, 'conflict', error.message);
      const timeout = error.code === ErrorCodes.READY_TIMEOUT;
      return failure(
        timeout ? 504 : 502,
        timeout ? 'restart_timeout' : 'restart_failed',
        error.message,
      );
    }
  }

  private authorized(header: string | undefined): boolean {
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

  private allowed(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.allow.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  private limitedFor(client: string, now: number) {
    const entry = this.failures.get(client);
    if (!entry) return undefined;
    if (entry.resetAt <= now) {
      this.failures.delete(client);
      return undefined;
    }
    return entry.count >= this.limit.max ? entry : undefined;
  }

  private recordFailure(client: string, now: number): void {
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

/** The AdminRequest of a node:http request (express's and koa's are node requests too). */
/** The Authorization header, or every value of it when the request repeated it. */
function authorizationOf(req: IncomingMessage): string | string[] | undefined {
  const values: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]?.toLowerCase() === 'authorization')
      values.push(req.rawHeaders[i + 1] ?? '');
  }
  return values.length > 1 ? values : values[0];
}

export function fromNode(
  req: IncomingMessage,
  url = new URL(req.url ?? '/', 'http://localhost'),
): AdminRequest {
  const forwarded = req.headers['x-forwarded-for'];
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    wait: url.searchParams.get('wait'),
    authorization: authorizationOf(req),
    forwardedFor: Array.isArray(forwarded) ? forwarded.join(',') : forwarded,
    remoteAddress: req.socket.remoteAddress,
  };
}

/** The admin route of `graceful`, or undefined when `options` leaves it off. */
export function createAdminRoute(
  graceful: Graceful,
  options: AdminOptions | boolean | undefined,
  log: Logger,
): AdminRoute | undefined {
  if (options === undefined || options === false) return undefined;
  return new AdminRoute(graceful, options === true ? {} : options, log);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function normalizePath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `admin.path must start with "/" (got ${JSON.stringify(path)}).`,
    );
  }
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
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
