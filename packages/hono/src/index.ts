import type { RequestListener } from 'node:http';
import {
  type AdminRequest,
  createMiddlewareKit,
  fromNode,
  type Graceful,
  type ListenTarget,
  type MiddlewareOptions,
  type ServeHelper,
  type ServeOptions,
  type ServeTarget,
} from '@graceful-restart/core';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler } from 'hono';

export type HonoGracefulOptions = MiddlewareOptions;

/** What `listen()` needs of a Hono app: its fetch handler. */
export interface FetchApp {
  fetch: (request: Request, env: HttpBindings) => Response | Promise<Response>;
}

/** The middleware, with this generation's Graceful and the listen helper. */
export interface HonoGraceful extends MiddlewareHandler {
  /** This generation: state, restart(), shutdown(), onShutdown(), lastRestart, events. */
  readonly graceful: Graceful;
  /**
   * Use instead of `@hono/node-server`'s `serve()`: listens on the socket inherited from the
   * previous generation (or socket-activated, or bound fresh) with the app's fetch handler, then
   * says ready. Resolves with the node:http server. A bare port (`3000`, or `process.env.PORT`)
   * binds 127.0.0.1; give `{ port, host: '0.0.0.0' }` for every address.
   * With the middleware not mounted (no `app.use()`), listen() answers its routes itself,
   * before the app, and nothing of ours runs on the app's requests.
   */
  listen: ServeHelper<FetchApp>;
  /**
   * Fires when the drain tells the connection of `c` to go (paced with the others): an SSE or
   * long-poll handler sends its last event and ends instead of being cut at the deadline. Off
   * `@hono/node-server` (no node request) it fires when the drain begins.
   */
  drainSignal(c: Context): AbortSignal;
}

/**
 * `app.use(honoGraceful())`: zero-downtime restarts for a Hono app on Node
 * (`@hono/node-server`). Draining (with `Connection: close`, no 503s) happens in core at the
 * server level; the middleware only answers the health and admin routes.
 */
export function honoGraceful(options: HonoGracefulOptions = {}): HonoGraceful {
  const kit = createMiddlewareKit(options);
  // Not async: every request passes through, and an async function costs each one a promise.
  const middleware: MiddlewareHandler = (c, next) => {
    if (!kit.answersRoutes) return next();
    const path = c.req.path;
    if (kit.adminRoute?.matches(path)) {
      return kit.adminRoute
        .handle(adminRequestOf(c))
        .then((answer) => c.json(answer.body, answer.statusCode as 200, answer.headers));
    }
    const health = kit.health(c.req.method, path);
    if (!health) return next();
    return Promise.resolve(c.json(health.body, health.statusCode as 200));
  };
  return Object.assign(middleware, {
    graceful: kit.graceful,
    // Without the middleware in the app, listen() answers its routes: nothing runs per request.
    listen: ((app: FetchApp, target: ListenTarget & ServeTarget[], serveOptions?: ServeOptions) => {
      const handler = getRequestListener(app.fetch as never) as RequestListener;
      const routes = (app as { routes?: { handler: unknown }[] }).routes ?? [];
      const mounted = routes.some((route) => route.handler === middleware);
      return kit.listen(kit.answeringRoutes(handler, mounted), target, serveOptions);
    }) as ServeHelper<FetchApp>,
    drainSignal: (c: Context) =>
      kit.graceful.drainSignal((c.env as Partial<HttpBindings> | undefined)?.incoming),
  });
}

/**
 * On `@hono/node-server` the node request is at hand (the caller's address, repeated headers);
 * elsewhere (e.g. `app.request()` in tests) the route sees no address and refuses.
 */
function adminRequestOf(c: Context): AdminRequest {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  if (incoming) return fromNode(incoming);
  const url = new URL(c.req.url);
  return {
    method: c.req.method,
    path: url.pathname,
    wait: url.searchParams.get('wait'),
    authorization: c.req.header('authorization'),
    forwardedFor: c.req.header('x-forwarded-for'),
  };
}

export default honoGraceful;
// The types and errors an app needs beside the middleware.
export type {
  DrainReport,
  ErrorCode,
  Graceful,
  ListenTarget,
  RestartResult,
  ServeOptions,
  ServeTarget,
} from '@graceful-restart/core';
export { ErrorCodes, GracefulRestartError, isGracefulRestartError } from '@graceful-restart/core';
