import http from 'node:http';
import type { Graceful } from './graceful.js';
import type { ListenerSpec } from './listeners.js';

/** Where to listen: a TCP port on 127.0.0.1, or a full listener spec. */
export type ListenTarget = number | ListenerSpec;

export interface ServeOptions {
  /**
   * The server to listen with, already handling requests (e.g. an https server created with
   * the app). Default: a new node:http server for the handler.
   */
  server?: http.Server;
}

/**
 * What `app.listen()` does, for frameworks whose middleware never sees the server (express,
 * koa): a server for `handler` listens through `graceful` (inherited, socket-activated or bound
 * fresh), then this generation says ready.
 */
export async function serve(
  graceful: Graceful,
  handler: http.RequestListener,
  target: ListenTarget,
  options: ServeOptions = {},
): Promise<http.Server> {
  const server = options.server ?? http.createServer(handler);
  await graceful.listen(server, typeof target === 'number' ? { port: target } : target);
  await graceful.ready();
  return server;
}
