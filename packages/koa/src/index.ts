import {
  createMiddlewareKit,
  type Graceful,
  type ListenTarget,
  type MiddlewareOptions,
  type ServeHelper,
  type ServeOptions,
  type ServeTarget,
} from '@graceful-restart/core';
import type Koa from 'koa';

export type KoaGracefulOptions = MiddlewareOptions;

/** The middleware, with this generation's Graceful and the listen helper. */
export interface KoaGraceful extends Koa.Middleware {
  /** This generation: state, restart(), shutdown(), onShutdown(), lastRestart, events. */
  readonly graceful: Graceful;
  /**
   * Use instead of `app.listen()`, after every `app.use()` (koa composes its middleware then):
   * listens on the socket inherited from the previous generation (or socket-activated, or bound
   * fresh), then says ready. Resolves with the server. A bare port (`3000`, or
   * `process.env.PORT`) binds 127.0.0.1; give `{ port, host: '0.0.0.0' }` for every address.
   * Several targets (http and https) listen through this one generation:
   * `listen(app, [3000, { name: 'https', port: 3443, server: https.createServer(tls, app.callback()) }])`.
   * With the middleware not mounted (no `app.use()`), listen() answers its routes itself,
   * before the app, and nothing of ours runs on the app's requests.
   */
  listen: ServeHelper<Koa>;
  /**
   * Fires when the drain tells the connection of `ctx` to go (paced with the others): an SSE or
   * long-poll handler sends its last event and ends instead of being cut at the deadline.
   */
  drainSignal(ctx: Koa.Context): AbortSignal;
}

/**
 * `app.use(koaGraceful())`: zero-downtime restarts for a koa 3 app. Draining (with
 * `Connection: close`, no 503s) happens in core at the server level; the middleware itself
 * only answers the health route.
 */
export function koaGraceful(options: KoaGracefulOptions = {}): KoaGraceful {
  const kit = createMiddlewareKit(options);
  // Not async: every request passes through, and an async function costs each one a promise.
  const middleware: Koa.Middleware = (ctx, next) => {
    if (!kit.answersRoutes) return next();
    const path = ctx.path;
    const admin = kit.admin(ctx.req, path);
    if (admin) {
      return admin.then((answer) => {
        ctx.status = answer.statusCode;
        ctx.set(answer.headers);
        ctx.body = answer.body;
      });
    }
    const health = kit.health(ctx.method, path);
    if (!health) return next();
    ctx.status = health.statusCode;
    ctx.body = health.body;
    return undefined;
  };
  return Object.assign(middleware, {
    graceful: kit.graceful,
    // Without the middleware in the app, listen() answers its routes: nothing runs per request.
    listen: ((app: Koa, target: ListenTarget & ServeTarget[], serveOptions?: ServeOptions) => {
      const handler = app.callback();
      const mounted = app.middleware.includes(middleware);
      return kit.listen(kit.answeringRoutes(handler, mounted), target, serveOptions);
    }) as ServeHelper<Koa>,
    drainSignal: (ctx: Koa.Context) => kit.graceful.drainSignal(ctx.req),
  });
}

export default koaGraceful;
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
