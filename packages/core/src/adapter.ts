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
import type { HealthAnswer } from './health.js';
import { checkOptionNames, describeValue } from './option-names.js';
import { GRACEFUL_OPTION_NAMES, type GracefulOptions } from './options.js';
import { type ListenTarget, type ServeOptions, type ServeTarget, serve } from './serve.js';

export interface MiddlewareOptions extends GracefulOptions {
  /**
   * The readiness route: a GET path (or several, e.g. `['/healthz', '/readyz']`) answered 200
   * `{ status: 'ok', state, pid }`, or 503 with the status saying why: `starting`, `not ready`
   * (setReady(false)), `lame duck`, `shutting down`. 200 through a handover. Default false.
   */
  healthRoute?: string | readonly string[] | false | undefined;
  /** The liveness route: a GET path answered 200 until the process exits. Default false. */
  livenessRoute?: string | false | undefined;
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
  /** The readiness and liveness routes' paths (none when both are off). */
  healthPaths: string[];
  /**
   * The readiness or liveness answer when `method` and `path` name one of those routes, else
   * undefined. `notReady`: a further verdict of the framework's (under-pressure) that makes
   * readiness answer 503 with it as the reason.
   */
  health(
    method: string,
    path: string,
    notReady?: () => string | undefined,
  ): HealthAnswer | undefined;
  /** The admin route's answer when `req` is for it, else undefined (also when it is off). */
  admin(req: http.IncomingMessage, path: string): Promise<AdminResponse> | undefined;
  /** The admin route, when configured. */
  adminRoute: AdminRoute | undefined;
  /**
   * What `listen()` serves: `handler` as it is when the app runs the middleware (`mounted`),
   * else behind the health and admin routes answered at the server, so that no middleware runs
   * on the app's requests.
   */
  answeringRoutes(handler: http.RequestListener, mounted: boolean): http.RequestListener;
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
  checkOptionNames(options, [
    ...GRACEFUL_OPTION_NAMES,
    'healthRoute',
    'livenessRoute',
    'admin',
    ...adapterOptions,
  ]);
  const { healthRoute = false, livenessRoute = false, admin, ...graceOptions } = options;
  const readinessPaths = routePaths(healthRoute, 'healthRoute');
  const livenessPaths = routePaths(livenessRoute, 'livenessRoute');
  const graceful = createGraceful(graceOptions);
  let adminRoute: AdminRoute | undefined;
  try {
    adminRoute = createAdminRoute(graceful, admin, graceful.logger);
  } catch (error) {
    // A middleware that was never made must not hold the process's one instance.
    graceful.uninstall();
    throw error;
  }
  const answersRoutes =
    readinessPaths.length + livenessPaths.length > 0 || adminRoute !== undefined;
  const health: MiddlewareKit['health'] = (method, path, notReady) => {
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    if (livenessPaths.includes(path)) return graceful.liveness();
    if (!readinessPaths.includes(path)) return undefined;
    return graceful.readiness(notReady?.());
  };
  return {
    graceful,
    adminRoute,
    healthPaths: [...readinessPaths, ...livenessPaths],
    answersRoutes,
    admin: (req, path) =>
      adminRoute?.matches(path) ? adminRoute.handle(fromNode(req)) : undefined,
    health,
    answeringRoutes: (handler, mounted) =>
      answersRoutes && !mounted ? routesBefore(handler, health, adminRoute) : handler,
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

/** The routes answered before `handler`, as the middleware would answer them. */
function routesBefore(
  handler: http.RequestListener,
  health: MiddlewareKit['health'],
  adminRoute: AdminRoute | undefined,
): http.RequestListener {
  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    if (adminRoute?.matches(path)) {
      adminRoute.serveNode(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
      return;
    }
    const answer = health(req.method ?? 'GET', path);
    if (!answer) return handler(req, res);
    const body = JSON.stringify(answer.body);
    res.writeHead(answer.statusCode, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
}

/** A route option's paths: a path, several, or false for none. */
function routePaths(value: unknown, option: string): string[] {
  if (value === false) return [];
  const paths = typeof value === 'string' ? [value] : value;
  if (Array.isArray(paths) && paths.length > 0 && paths.every(isPath)) return [...paths];
  throw new GracefulRestartError(
    ErrorCodes.INVALID_OPTION,
    `${option} must be a path starting with "/" (e.g. '/healthz'), a list of them, or false (got ${describeValue(value)}).`,
  );
}

const isPath = (path: unknown): path is string => typeof path === 'string' && path.startsWith('/');

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
