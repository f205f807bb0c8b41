import dns from 'node:dns';
import http from 'node:http';
import type { Server as NetServer } from 'node:net';
import {
  type AdminOptions,
  createAdminRoute,
  createGraceful,
  DEFAULT_LISTENER_NAME,
  ErrorCodes,
  fromNode,
  type Graceful,
  type GracefulOptions,
  GracefulRestartError,
  healthAnswer,
  type ListenerSpec,
  type Logger,
} from '@graceful-restart/core';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';

export interface FastifyGracefulOptions extends Omit<GracefulOptions, 'logger'> {
  /**
   * Name of the listener `fastify.listen()` creates; the next generation adopts it by this name.
   * Extra sockets of a `localhost` listen are named `<name>-1`, `<name>-2`. Default `web`.
   */
  listenerName?: string;
  /** Default: `fastify.log.child({ plugin: 'graceful-restart' })`. `false` for silence. */
  logger?: Logger | false;
  /**
   * Register @fastify/under-pressure (an optional peer dependency) with a health check that fails
   * while this process shuts down for good: `true`, or under-pressure's options (its own
   * `healthCheck` is combined with ours; `exposeStatusRoute` defaults to `/status`). Default false.
   */
  underPressure?: boolean | Record<string, unknown>;
  /**
   * A GET route answering 200 `{ status: 'ok', state, pid }`, or 503 with `status: 'shutting down'`
   * once this process shuts down for good (never during a handover). A path, or false. Default false.
   */
  healthRoute?: string | false;
  /**
   * The authenticated admin route (`POST /graceful`, `GET /graceful/status`): `true` takes the
   * secret from GRACEFUL_RESTART_TOKEN; or its options (`token`, `path`, `allow`, `trustProxy`,
   * `rateLimit`). Default false (off).
   */
  admin?: AdminOptions | boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** This generation: state, restart(), shutdown(), lastRestart, events. */
    graceful: Graceful;
  }
}

/** Options of fastify.listen() that reach server.listen(). */
interface ListenOptions {
  port?: number;
  host?: string;
  path?: string;
  backlog?: number;
  ipv6Only?: boolean;
}

/**
 * fastify.register(gracefulRestart): `fastify.listen()` then listens on the sockets inherited
 * from the previous generation (or socket activation, or binds them fresh), the generation says
 * ready once fastify listens, and a restart or shutdown drains through core before
 * `fastify.close()` runs the app's `preClose` / `onClose` hooks, once.
 */
const plugin: FastifyPluginAsync<FastifyGracefulOptions> = async (fastify, options) => {
  const {
    listenerName = DEFAULT_LISTENER_NAME,
    underPressure,
    healthRoute = false,
    admin,
    logger = fastify.log.child({ plugin: 'graceful-restart' }),
    ...coreOptions
  } = options;
  const graceful = createGraceful({ ...coreOptions, logger });
  fastify.decorate('graceful', graceful);

  const bindings = interceptListen(fastify, graceful, listenerName);
  fastify.addHook('onListen', async () => {
    await bindings.done;
    await graceful.ready();
  });
  // After the drain, fastify.close() runs the app's hooks; its server.close() finds the
  // listener already closed, so it answers nothing with 503.
  graceful.onShutdown(() => fastify.close());
  fastify.addHook('onClose', async () => graceful.uninstall());

  const adminRoute = createAdminRoute(graceful, admin, graceful.logger);
  if (adminRoute) {
    for (const url of [adminRoute.path, adminRoute.statusPath]) {
      fastify.all(url, async (request, reply) => {
        const answer = await adminRoute.handle(fromNode(request.raw));
        return reply.code(answer.statusCode).headers(answer.headers).send(answer.body);
      });
    }
  }

  const healthy = () => !graceful.shuttingDown;
  if (healthRoute) {
    fastify.get(healthRoute, async (_request, reply) => {
      const { statusCode, body } = healthAnswer(graceful);
      return reply.code(statusCode).send(body);
    });
  }
  if (underPressure) {
    await registerUnderPressure(fastify, underPressure === true ? {} : underPressure, healthy);
  }
};

/**
 * Routes fastify's own `server.listen()` call through core. A `localhost` listen (fastify's
 * default host) is resolved here: every address it names gets its own socket, each handed over.
 */
function interceptListen(fastify: FastifyInstance, graceful: Graceful, name: string) {
  const server = fastify.server as NetServer;
  let resolveDone: () => void = () => {};
  const bindings = { done: new Promise<void>((resolve) => (resolveDone = resolve)) };
  Object.defineProperty(server, 'listen', {
    configurable: true,
    writable: true,
    value(options: ListenOptions, ...rest: unknown[]) {
      // One call only: later listen() calls, and core's own, reach net.Server's listen.
      delete (server as { listen?: unknown }).listen;
      // fastify.listen() always passes an options object; anything else (a test tool listening
      // on the bare server) is not a listen to hand over.
      if (typeof options !== 'object' || options === null) {
        return (server.listen as (...args: unknown[]) => NetServer)(options, ...rest);
      }
      bindAll(fastify, graceful, name, options).then(resolveDone, (error: Error) => {
        resolveDone();
        server.emit('error', error);
      });
      return server;
    },
  });
  return bindings;
}

async function bindAll(
  fastify: FastifyInstance,
  graceful: Graceful,
  name: string,
  options: ListenOptions,
): Promise<void> {
  const server = fastify.server as NetServer;
  if (options.path !== undefined) {
    await graceful.listen(server, { name, path: options.path, ...extras(options) });
    return;
  }
  const requested = options.host ?? 'localhost';
  const hosts = await addressesOf(requested);
  if (hosts.length > 1 && !(server instanceof http.Server)) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_LISTENER,
      `Listener "${name}": "${requested}" names ${hosts.join(' and ')}, and a second socket can only be ` +
        'created for plain HTTP servers. Listen on one address, e.g. { host: "127.0.0.1" }.',
      { listener: name },
    );
  }
  // fastify binds more sockets for "localhost" by looking this host up again: an address
  // makes it find none, since every address is bound here.
  options.host = hosts[0] as string;
  const main = await graceful.listen(server, {
    name,
    host: hosts[0] as string,
    port: options.port ?? 0,
    ...extras(options),
  });
  if (!(server instanceof http.Server)) return;
  for (const [index, host] of hosts.slice(1).entries()) {
    const secondary = secondaryServer(fastify, server);
    const spec: ListenerSpec = { name: `${name}-${index + 1}`, host, port: main.port ?? 0 };
    await graceful.listen(secondary, { ...spec, ...extras(options) });
  }
}

function extras(options: ListenOptions): { backlog?: number; ipv6Only?: boolean } {
  return {
    ...(options.backlog === undefined ? {} : { backlog: options.backlog }),
    ...(options.ipv6Only === undefined ? {} : { ipv6Only: options.ipv6Only }),
  };
}

/** The addresses a host stands for: itself when it is one, else every address it resolves to. */
async function addressesOf(host: string): Promise<string[]> {
  if (host !== 'localhost') return [host];
  const found = await dns.promises.lookup(host, { all: true });
  return [...new Set(found.map((entry) => entry.address))];
}

/** Another socket for the same app, as fastify makes for localhost: same handler and timeouts. */
function secondaryServer(fastify: FastifyInstance, main: http.Server): http.Server {
  const secondary = http.createServer(fastify.routing as http.RequestListener);
  secondary.keepAliveTimeout = main.keepAliveTimeout;
  secondary.requestTimeout = main.requestTimeout;
  secondary.headersTimeout = main.headersTimeout;
  secondary.timeout = main.timeout;
  secondary.maxRequestsPerSocket = main.maxRequestsPerSocket;
  secondary.on('upgrade', (...args) => main.emit('upgrade', ...args));
  return secondary;
}

async function registerUnderPressure(
  fastify: FastifyInstance,
  options: Record<string, unknown>,
  healthy: () => boolean,
): Promise<void> {
  let underPressure: FastifyPluginAsync<Record<string, unknown>>;
  try {
    underPressure = (await import('@fastify/under-pressure'))
      .default as unknown as FastifyPluginAsync<Record<string, unknown>>;
  } catch (cause) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      'underPressure needs @fastify/under-pressure: install it (npm i @fastify/under-pressure) or drop the option.',
      { cause },
    );
  }
  const userCheck = options['healthCheck'] as ((app: FastifyInstance) => unknown) | undefined;
  await fastify.register(underPressure, {
    exposeStatusRoute: true,
    ...options,
    healthCheck: async (app: FastifyInstance) =>
      healthy() && (userCheck ? await userCheck(app) : true),
  });
}

export const gracefulRestart = fp(plugin, { fastify: '5.x', name: '@graceful-restart/fastify' });
export default gracefulRestart;
// Core's API too (errors, types, createGraceful), so one import serves an app.
export * from '@graceful-restart/core';
