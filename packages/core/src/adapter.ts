import type http from 'node:http';
import { fromNode } from './admin/request.js';
import {
  type AdminOptions,
  type AdminResponse,
  type AdminRoute,
  createAdminRoute,
} from './admin/route.js';
import { ErrorCodes, GracefulRestartError } from './errors.js';
import { createGraceful, type Graceful } from './generation/graceful.js';
import { type HealthAnswer, healthAnswer } from './health.js';
import { checkOptionNames } from './option-names.js';
import { GRACEFUL_OPTION_NAMES, type GracefulOptions } from './options.js';
import { type ListenTarget, type ServeOptions, type ServeTarget, serve } from './serve.js';

export interface MiddlewareOptions extends GracefulOptions {
  /**
   * A GET path the middleware answers: 200 `{ status: 'ok', state, pid }`, or 503 with
   * `status: 'shutting down'` once this process shuts down for good (never during a handover).
   * Default false.
   */
  healthRoute?: string | false | undefined;
  /**
   * The authenticated admin route (`POST /graceful`, `GET /graceful/status`): `true` takes the
   * secret from GRACEFUL_RESTART_TOKEN; or its options. Default false (off).
   */
  admin?: AdminOptions | boolean | undefined;
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
  listen: ServeHelper<http.RequestListener>;
}

/**
 * `listen(app, target)` of the express and koa adapters, instead of `app.listen()`: one target,
 * or several (e.g. http and https) through this one generation.
 */
export interface ServeHelper<App> {
  (app: App, target: ListenTarget, options?: ServeOptions): Promise<http.Server>;
  (app: App, targets: ServeTarget[]): Promise<http.Server[]>;
}

/**
 * `adapterOptions`: the adapter's own option names (taken out before `options` gets here), so
 * that a misspelt one is refused with the right suggestion.
 */
export function createMiddlewareKit(
  options: MiddlewareOptions = {},
  adapterOptions: readonly string[] = [],
): MiddlewareKit {
  checkOptionNames(options, [...GRACEFUL_OPTION_NAMES, 'healthRoute', 'admin', ...adapterOptions]);
  const { healthRoute = false, admin, ...graceOptions } = options;
  const graceful = createGraceful(graceOptions);
  let adminRoute: AdminRoute | undefined;
  try {
    adminRoute = createAdminRoute(graceful, admin, graceful.logger);
  } catch (error) {
    // A middleware that was never made must not hold the process's one instance.
    graceful.uninstall();
    throw error;
  }
  return {
    graceful,
    adminRoute,
    healthRoute,
    answersRoutes: Boolean(healthRoute) || adminRoute !== undefined,
    admin: (req, path) =>
      adminRoute?.matches(path) ? adminRoute.handle(fromNode(req)) : undefined,
    health: (method, path) =>
      healthRoute && method === 'GET' && path === healthRoute ? healthAnswer(graceful) : undefined,
    listen: ((
      handler: http.RequestListener,
      target: ListenTarget | ServeTarget[],
      serveOptions?: ServeOptions,
    ) =>
      Array.isArray(target)
        ? serve(graceful, handler, target)
        : serve(graceful, handler, target, serveOptions)) as ServeHelper<http.RequestListener>,
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
