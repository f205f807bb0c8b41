import type http from 'node:http';
import { createGraceful, type Graceful, type GracefulOptions } from './graceful.js';
import { type HealthAnswer, healthAnswer } from './health.js';
import { type ListenTarget, type ServeOptions, serve } from './serve.js';

export interface MiddlewareOptions extends GracefulOptions {
  /**
   * A GET path the middleware answers: 200 `{ status: 'ok', state, pid }`, or 503 with
   * `status: 'shutting down'` once this process shuts down for good (never during a handover).
   * Default false.
   */
  healthRoute?: string | false;
}

/** What a middleware adapter (express, koa) is built from: everything but the framework glue. */
export interface MiddlewareKit {
  graceful: Graceful;
  /** The health answer when `method` and `path` name the health route, else undefined. */
  health(method: string, path: string): HealthAnswer | undefined;
  listen(
    handler: http.RequestListener,
    target: ListenTarget,
    options?: ServeOptions,
  ): Promise<http.Server>;
}

export function createMiddlewareKit(options: MiddlewareOptions = {}): MiddlewareKit {
  const { healthRoute = false, ...graceOptions } = options;
  const graceful = createGraceful(graceOptions);
  return {
    graceful,
    health: (method, path) =>
      healthRoute && method === 'GET' && path === healthRoute ? healthAnswer(graceful) : undefined,
    listen: (handler, target, serveOptions) => serve(graceful, handler, target, serveOptions),
  };
}
