import dns from 'node:dns';
import http from 'node:http';
import type { Server as NetServer } from 'node:net';
import { DEFAULTS } from './defaults.js';
import { ErrorCodes, GracefulRestartError } from './errors.js';
import type { Graceful } from './generation/graceful.js';
import type { ListenerInfo } from './sockets/acquire.js';
import type { ListenerSpec, TcpListenerSpec } from './sockets/spec.js';

/**
 * Where to listen: a TCP port on 127.0.0.1 (a number, or a string of digits such as
 * `process.env.PORT`), or a full listener spec. Unlike `app.listen(port)`, which binds every
 * address, a bare port binds 127.0.0.1 only: in a container, give `{ port, host: '0.0.0.0' }`.
 */
export type ListenTarget = number | string | ListenerSpec;

export interface ServeOptions {
  /**
   * The server to listen with, already handling requests (e.g. an https server created with
   * the app). Default: a new node:http server for the handler.
   */
  server?: http.Server;
}

/** One of several listeners: a target, or a listener spec with its own server (https beside http). */
export type ServeTarget = ListenTarget | (ListenerSpec & { server?: http.Server });

/**
 * What `app.listen()` does, for frameworks whose middleware never sees the server (express,
 * koa): a server for `handler` listens through `graceful` (inherited, socket-activated or bound
 * fresh), then this generation says ready. With an array, every target listens (through this
 * one generation) before it says ready, and the servers come back in the same order; an
 * unnamed target after the first is named `web-<index>`.
 */
export async function serve(
  graceful: Graceful,
  handler: http.RequestListener,
  target: ListenTarget,
  options?: ServeOptions,
): Promise<http.Server>;
export async function serve(
  graceful: Graceful,
  handler: http.RequestListener,
  targets: ServeTarget[],
): Promise<http.Server[]>;
export async function serve(
  graceful: Graceful,
  handler: http.RequestListener,
  target: ListenTarget | ServeTarget[],
  options: ServeOptions = {},
): Promise<http.Server | http.Server[]> {
  const many = Array.isArray(target);
  const targets: ServeTarget[] = many ? target : [{ ...asSpec(target), server: options.server }];
  if (targets.length === 0) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_LISTENER,
      'listen() got an empty list of targets: give a port, a listener spec, or a list of them.',
    );
  }
  const servers: http.Server[] = [];
  for (const [index, entry] of targets.entries()) {
    const { server: given, ...spec } = asSpec(entry) as ListenerSpec & { server?: http.Server };
    const server = given ?? http.createServer(handler);
    const name = spec.name ?? (index === 0 ? undefined : `${DEFAULTS.listenerName}-${index}`);
    await graceful.listen(server, name === undefined ? spec : { ...spec, name });
    servers.push(server);
  }
  await graceful.ready();
  return many ? servers : (servers[0] as http.Server);
}

/** A bare port (number or string of digits) as a TCP listener spec; a spec as it is. */
function asSpec(target: ServeTarget): ListenerSpec & { server?: http.Server } {
  return typeof target === 'object' && target !== null ? target : { port: target };
}

/** A TCP listener on several addresses, each handed over as its own listener. */
export interface AddressesListenerSpec extends Omit<TcpListenerSpec, 'name' | 'host'> {
  name: string;
}

/**
 * The addresses a listen host stands for: itself when it is an address, else every address
 * `localhost` resolves to (frameworks such as fastify listen on all of them by default).
 */
export async function hostAddresses(host: string): Promise<string[]> {
  if (host !== 'localhost') return [host];
  const found = await dns.promises.lookup(host, { all: true });
  return [...new Set(found.map((entry) => entry.address))];
}

/**
 * Listens on each of `addresses` (from hostAddresses()): the first is listener `name` on
 * `server`; each further one is `<name>-1`, `<name>-2`... on a server from `extraServer`, which
 * must serve the same app. Without `extraServer`, several addresses are refused with a typed
 * error that says to listen on one.
 */
export async function listenOnAddresses(
  graceful: Graceful,
  server: NetServer,
  spec: AddressesListenerSpec,
  addresses: string[],
  extraServer?: () => NetServer,
): Promise<ListenerInfo[]> {
  if (addresses.length > 1 && !extraServer) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_LISTENER,
      `Listener "${spec.name}": the host names ${addresses.join(' and ')}, and a second socket can only be ` +
        'created for plain HTTP servers. Listen on one address, e.g. { host: "127.0.0.1" }.',
      { listener: spec.name },
    );
  }
  const [first = '', ...others] = addresses;
  const main = await graceful.listen(server, { ...spec, host: first });
  const infos = [main];
  for (const [index, host] of others.entries()) {
    const extra = (extraServer as () => NetServer)();
    const name = `${spec.name}-${index + 1}`;
    infos.push(await graceful.listen(extra, { ...spec, name, host, port: main.port ?? 0 }));
  }
  return infos;
}
