import type http from 'node:http';
import {
  type AdminOptions,
  type AdminResponse,
  type AdminRoute,
  createAdminRoute,
  fromNode,
} from './admin.js';
import { ErrorCodes, GracefulRestartError } from './errors.js';
import { createGraceful, type Graceful } from './graceful.js';
import { type HealthAnswer, healthAnswer } from './health.js';
import type { GracefulOptions } from './options.js';
import { type ListenTarget, type ServeOptions, serve } from './serve.js';

export interface MiddlewareOptions extends GracefulOptions {
  /**
   * A GET path the middleware answers: 200 `{ status: 'ok', state, pid }`, or 503 with
   * `status: 'shutting down'` once this process shuts down for good (never during a handover).
   * Default false.
   */
  healthRoute?: string | false;
  /**
   * The authenticated admin route (`POST /graceful`, `GET /graceful/status`): `true` takes the
   * secret from GRACEFUL_RESTART_TOKEN; or its options. Default false (off).
   */
  admin?: AdminOptions | boolean;
}

/** What every adapter (fastify, express, koa) is built from: everything but the framework glue. */
export interface MiddlewareKit {
  graceful: Graceful;
  /**
   * False when neither the health route nor the admin route is mounted: the middleware then
   * passes every request on without reading its path (which koa would parse for it).
   */
  answersRoutes: boolean;
  /** The health route's path, or false when it is off. */
  healthRoute: string | false;
  /** The health answer when `method` and `path` name the health route, else undefined. */
  health(method: string, path: string): HealthAnswer | undefined;
  /** The admin route's answer when `req` is for it, else undefined (also when it is off). */
  admin(req: http.IncomingMessage, path: string): Promise<AdminResponse> | undefined;
  /** The admin route, when configured. */
  adminRoute: AdminRoute | undefined;
  listen(
    handler: http.RequestListener,
    target: ListenTarget,
    options?: ServeOptions,
  ): Promise<http.Server>;
}

export function createMiddlewareKit(options: MiddlewareOptions = {}): MiddlewareKit {
  const { healthRoute = false, admin, ...graceOptions } = options;
  const graceful = createGraceful(graceOptions);
  const adminRoute = createAdminRoute(graceful, admin, graceful.logger);
  return {
    graceful,
    adminRoute,
    healthRoute,
    answersRoutes: Boolean(healthRoute) || adminRoute !== undefined,
    admin: (req, path) =>
      adminRoute?.matches(path) ? adminRoute.handle(fromNode(req)) : undefined,
    health: (method, path) =>
      healthRoute && method === 'GET' && path === healthRoute ? healthAnswer(graceful) : undefined,
    listen: (handler, target, serveOptions) => serve(graceful, handler, target, serveOptions),
  };
}

/**
 * Loads an optional peer dependency an option needs. `load` is the adapter's own `import()`, so
 * the package resolves from the adapter, where the user installed it.
 */
export async function importPeer<T>(
  load: () => Promise<T>,
  packageName: string,
  option: string,
): Promise<T> {
  try {
    return await load();
  } catch (cause) {
    throw new GracefulRestartError(
      ErrorCodes.PEER_DEPENDENCY_MISSING,
      `${option} needs ${packageName}: install it (npm i ${packageName}) or drop the option.`,
      { cause },
    );
  }
}
