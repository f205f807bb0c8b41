import http from 'node:http';
import { isIP, type Server as NetServer } from 'node:net';
import {
  type AdminOptions,
  createMiddlewareKit,
  DEFAULTS,
  ErrorCodes,
  fromNode,
  type Graceful,
  type GracefulOptions,
  GracefulRestartError,
  hostAddresses,
  importPeer,
  type Logger,
  listenOnAddresses,
} from '@graceful-restart/core';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';

export interface FastifyGracefulOptions extends Omit<GracefulOptions, 'logger'> {
  /**
   * Name of the listener `fastify.listen()` creates; the next generation adopts it by this name.
   * Extra sockets of a `localhost` listen are named `<name>-1`, `<name>-2`. Default `web`.
   */
  listenerName?: string | undefined;
  /** Default: `fastify.log.child({ plugin: 'graceful-restart' })`. `false` for silence. */
  logger?: Logger | false | undefined;
  /**
   * Register @fastify/under-pressure (an optional peer dependency) with a health check that fails
   * once the final drain begins (not during a lame duck, where under-pressure's 503 for every
   * request would fail the requests a lame duck serves): `true`, or under-pressure's options (its
   * own `healthCheck` is combined with ours; `exposeStatusRoute` defaults to `/status`). Default
   * false. Its verdict (however it was registered) also makes the readiness route answer 503.
   */
  underPressure?: boolean | Record<string, unknown> | undefined;
  /**
   * The readiness route: a GET path (or several, e.g. `['/healthz', '/readyz']`) answered 200
   * `{ status: 'ok', state, pid }`, or 503 with the status saying why: `starting`, `not ready`
   * (setReady(false), under pressure), `lame duck`, `shutting down`. 200 through a handover.
   * Default false.
   */
  healthRoute?: string | readonly string[] | false | undefined;
  /** The liveness route: a GET path answered 200 until the process exits. Default false. */
  livenessRoute?: string | false | undefined;
  /**
   * The authenticated admin route (`POST /graceful`, `GET /graceful/status`): `true` takes the
   * secret from GRACEFUL_RESTART_TOKEN; or its options (`token`, `path`, `allow`, `trustProxy`,
   * `rateLimit`). Default false (off).
   */
  admin?: AdminOptions | boolean | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** This generation: state, restart(), shutdown(), lastRestart, events. */
    graceful: Graceful;
  }
  interface FastifyRequest {
    /** Fires when the drain tells this request's connection to go: end a stream (SSE) then. */
    readonly drainSignal: AbortSignal;
  }
}

/** Options fastify's register() itself takes, which it passes on to every plugin. */
const FASTIFY_REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers'] as const;

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
    listenerName = DEFAULTS.listenerName,
    underPressure,
    logger = fastify.log.child({ plugin: 'graceful-restart' }),
    ...kitOptions
  } = options;
  // fastify's own register() options reach the plugin too: not ours to check.
  for (const name of FASTIFY_REGISTER_OPTIONS) delete (kitOptions as Record<string, unknown>)[name];
  const kit = createMiddlewareKit({ ...kitOptions, logger }, ['listenerName', 'underPressure']);
  const { graceful, adminRoute, healthPaths } = kit;
  fastify.decorate('graceful', graceful);
  // A getter: nothing is made per request unless a handler asks.
  fastify.decorateRequest('drainSignal', {
    getter(this: { raw: Parameters<Graceful['drainSignal']>[0] }) {
      return graceful.drainSignal(this.raw);
    },
  });

  const bindings = interceptListen(fastify, graceful, listenerName);
  fastify.addHook('onListen', async () => {
    await bindings.done;
    try {
      await graceful.ready();
    } catch (error) {
      // fastify only logs an onListen failure and serves on; express and koa reject listen()
      // and the process exits 1. A generation that cannot say ready must not serve: same here.
      graceful.logger.error(`cannot say ready, exiting: ${(error as Error).message}`);
      graceful.uninstall();
      if (kitOptions.exitProcess !== false) process.exit(1);
      throw error;
    }
  });
  // After the drain, fastify.close() runs the app's hooks; its server.close() finds the
  // listener already closed, so it answers nothing with 503.
  graceful.onShutdown(() => fastify.close());
  fastify.addHook('onClose', async () => graceful.uninstall());

  if (adminRoute) {
    // A context of its own, whose one parser takes any body unread: the route reads none, and
    // its answer (401 first of all) must not depend on a body sent before the caller is known.
    await fastify.register(async (admin) => {
      admin.removeAllContentTypeParsers();
      admin.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
      for (const url of [adminRoute.path, adminRoute.statusPath]) {
        admin.all(url, async (request, reply) => {
          const answer = await adminRoute.handle(fromNode(request.raw));
          return reply.code(answer.statusCode).headers(answer.headers).send(answer.body);
        });
      }
    });
  }
  // @fastify/under-pressure's verdict, when it is registered (by this plugin or the app).
  const pressure = () =>
    (fastify as { isUnderPressure?: () => boolean }).isUnderPressure?.()
      ? 'under pressure'
      : undefined;
  for (const path of healthPaths) {
    fastify.get(path, async (_request, reply) => {
      const answer = kit.health('GET', path, pressure);
      return reply.code(answer?.statusCode ?? 404).send(answer?.body);
    });
  }
  if (underPressure) {
    await registerUnderPressure(
      fastify,
      underPressure === true ? {} : underPressure,
      graceful,
    ).catch((error: unknown) => {
      // A plugin that failed to register must not hold the process's one instance.
      graceful.uninstall();
      throw error;
    });
  }
};

/**
 * Routes fastify's own `server.listen()` call through core, once. A `localhost` listen
 * (fastify's default host) gets a socket per address, each handed over: the extra ones on
 * servers for the same routes, as fastify itself makes them.
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
      listenAll(fastify, graceful, name, options).then(resolveDone, (error: Error) => {
        resolveDone();
        server.emit('error', error);
      });
      return server;
    },
  });
  return bindings;
}

async function listenAll(
  fastify: FastifyInstance,
  graceful: Graceful,
  name: string,
  options: ListenOptions,
): Promise<void> {
  const server = fastify.server as NetServer;
  const extras = {
    ...(options.backlog === undefined ? {} : { backlog: options.backlog }),
    ...(options.ipv6Only === undefined ? {} : { ipv6Only: options.ipv6Only }),
  };
  if (options.path !== undefined) {
    await graceful.listen(server, { name, path: options.path, ...extras });
    return;
  }
  const host = options.host ?? 'localhost';
  if (host !== 'localhost' && isIP(host) === 0) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_LISTENER,
      `Listener "${name}": fastify.listen() got host "${host}", a name that may resolve to several addresses; ` +
        "a listener hands over one socket. Listen on an address: fastify.listen({ host: '127.0.0.1', port }), " +
        "or '0.0.0.0' / '::' for every address.",
      { listener: name },
    );
  }
  const addresses = await hostAddresses(host);
  // fastify binds more sockets for "localhost" by looking the host up again once the server
  // listens: an address makes it find none, since every address is bound here.
  options.host = addresses[0] as string;
  await listenOnAddresses(
    graceful,
    server,
    { name, port: options.port ?? 0, ...extras },
    addresses,
    server instanceof http.Server ? () => extraServer(fastify, server) : undefined,
  );
}

/** Another socket for the same app, as fastify makes for localhost: same handler and timeouts. */
function extraServer(fastify: FastifyInstance, main: http.Server): http.Server {
  const extra = http.createServer(fastify.routing as http.RequestListener);
  extra.keepAliveTimeout = main.keepAliveTimeout;
  extra.requestTimeout = main.requestTimeout;
  extra.headersTimeout = main.headersTimeout;
  extra.timeout = main.timeout;
  extra.maxRequestsPerSocket = main.maxRequestsPerSocket;
  extra.on('upgrade', (...args) => main.emit('upgrade', ...args));
  return extra;
}

/** True once the final drain has begun (a lame duck still serves). */
const draining = (graceful: Graceful) => graceful.shuttingDown && graceful.state !== 'lame-duck';

/** @fastify/under-pressure with a health check that fails once the final drain begins. */
async function registerUnderPressure(
  fastify: FastifyInstance,
  options: Record<string, unknown>,
  graceful: Graceful,
): Promise<void> {
  const underPressure = (
    await importPeer(
      () => import('@fastify/under-pressure'),
      '@fastify/under-pressure',
      'underPressure',
    )
  ).default as unknown as FastifyPluginAsync<Record<string, unknown>>;
  const userCheck = options['healthCheck'] as ((app: FastifyInstance) => unknown) | undefined;
  await fastify.register(underPressure, {
    exposeStatusRoute: true,
    ...options,
    healthCheck: async (app: FastifyInstance) =>
      !draining(graceful) && (userCheck ? await userCheck(app) : true),
  });
}

export const gracefulRestart = fp(plugin, { fastify: '5.x', name: '@graceful-restart/fastify' });
export default gracefulRestart;
// The types and errors an app needs beside the plugin.
export type { DrainReport, ErrorCode, Graceful, RestartResult } from '@graceful-restart/core';
export { ErrorCodes, GracefulRestartError, isGracefulRestartError } from '@graceful-restart/core';
