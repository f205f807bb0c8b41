import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULTS } from '../defaults.js';
import { ErrorCodes, GracefulRestartError, isGracefulRestartError } from '../errors.js';
import type { Graceful } from '../generation/graceful.js';
import type { Logger } from '../logger.js';
import { checkOptionNames } from '../option-names.js';
import { type AccessOptions, AdminAccess } from './access.js';
import { type AdminRequest, fromNode } from './request.js';

export interface AdminOptions extends AccessOptions {
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

/**
 * The authenticated restart trigger, once for every adapter: `POST <path>` restarts,
 * `GET <path>/status` reports. The secret is compared in constant time and never logged,
 * echoed or put in an error (admin/access.ts).
 */
export class AdminRoute {
  readonly path: string;
  readonly statusPath: string;
  private readonly access: AdminAccess;

  constructor(
    private readonly graceful: Graceful,
    options: AdminOptions,
    private readonly log: Logger,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    checkOptionNames(options, ['token', 'path', 'allow', 'trustProxy', 'rateLimit'], 'admin.');
    this.access = new AdminAccess(options, env);
    this.path = normalizePath(options.path ?? DEFAULTS.adminPath);
    this.statusPath = `${this.path === '/' ? '' : this.path}/status`;
  }

  /** True for the paths this route answers (every method: others get 405). */
  matches(path: string): boolean {
    return path === this.path || path === this.statusPath;
  }

  async handle(request: AdminRequest): Promise<AdminResponse> {
    const client = this.access.allowedClient(request);
    if (!client) {
      return failure(403, 'forbidden', 'This address may not use the admin route.');
    }
    const now = Date.now();
    const limited = this.access.limitedFor(client, now);
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
      this.access.recordFailure(client, now);
      this.log.warn(
        `admin route: refused a request from ${client} with several Authorization headers`,
      );
      return failure(400, 'bad_request', 'Send exactly one Authorization header.');
    }
    if (!this.access.authorized(request.authorization)) {
      this.access.recordFailure(client, now);
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
        draining: this.graceful.predecessorsDraining,
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

function normalizePath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `admin.path must start with "/" (got ${JSON.stringify(path)}).`,
    );
  }
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
