import type http from 'node:http';
import {
  createMiddlewareKit,
  type Graceful,
  type ListenTarget,
  type MiddlewareOptions,
  type ServeHelper,
  type ServeOptions,
  type ServeTarget,
} from '@graceful-restart/core';
import type { RequestHandler } from 'express';

export type ExpressGracefulOptions = MiddlewareOptions;

/** The middleware, with this generation's Graceful and the listen helper. */
export interface ExpressGraceful extends RequestHandler {
  /** This generation: state, restart(), shutdown(), onShutdown(), lastRestart, events. */
  readonly graceful: Graceful;
  /**
   * Use instead of `app.listen()`: listens on the socket inherited from the previous generation
   * (or socket-activated, or bound fresh), then says ready. Resolves with the server. A bare
   * port (`3000`, or `process.env.PORT`) binds 127.0.0.1; give `{ port, host: '0.0.0.0' }` for
   * every address. Several targets (http and https) listen through this one generation:
   * `listen(app, [3000, { name: 'https', port: 3443, server: https.createServer(tls, app) }])`.
   * With the middleware not mounted (no `app.use()`), listen() answers its routes itself,
   * before the app, and nothing of ours runs on the app's requests.
   */
  listen: ServeHelper<http.RequestListener>;
  /**
   * Fires when the drain tells `req`'s connection to go (paced with the others): an SSE or
   * long-poll handler sends its last event and ends instead of being cut at the deadline.
   */
  drainSignal(req: http.IncomingMessage): AbortSignal;
}

/**
 * `app.use(expressGraceful())`: zero-downtime restarts for an express 5 app. Draining (with
 * `Connection: close`, no 503s) happens in core at the server level; the middleware itself
 * only answers the health route.
 */
export function expressGraceful(options: ExpressGracefulOptions = {}): ExpressGraceful {
  const kit = createMiddlewareKit(options);
  const middleware: RequestHandler = (req, res, next) => {
    if (!kit.answersRoutes) return next();
    const admin = kit.admin(req, req.path);
    if (admin) {
      admin.then(
        (answer) => res.status(answer.statusCode).set(answer.headers).json(answer.body),
        next,
      );
      return;
    }
    const health = kit.health(req.method, req.path);
    if (!health) return next();
    res.status(health.statusCode).json(health.body);
  };
  return Object.assign(middleware, {
    graceful: kit.graceful,
    // Without the middleware in the app, listen() answers its routes: nothing runs per request.
    listen: ((
      app: http.RequestListener,
      target: ListenTarget & ServeTarget[],
      options?: ServeOptions,
    ) =>
      kit.listen(
        kit.answeringRoutes(app, uses(app, middleware)),
        target,
        options,
      )) as ServeHelper<http.RequestListener>,
    drainSignal: (req: http.IncomingMessage) => kit.graceful.drainSignal(req),
  });
}

/** A router's layers, as express 5 keeps them (a mounted router is a layer with its own). */
interface RouterLike {
  stack?: { handle?: unknown }[];
}

/** Whether `app` (or a router mounted in it) runs `middleware`. */
function uses(app: unknown, middleware: RequestHandler): boolean {
  if (typeof app !== 'function') return false;
  const layers = (app as { router?: RouterLike }).router?.stack ?? (app as RouterLike).stack;
  // Anything else with a `stack` (a function of some other library's) is no router.
  if (!Array.isArray(layers)) return false;
  return layers.some((layer) => layer?.handle === middleware || uses(layer?.handle, middleware));
}

export default expressGraceful;
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
