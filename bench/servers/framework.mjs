// One route (GET / -> "pid=N") on FRAMEWORK (http | fastify | express | koa | hono), bare
// (MODE=bare), with its graceful-restart adapter (MODE=graceful), or (express and koa) with an
// empty middleware (MODE=noop: what any `app.use()` costs), for the adapter overhead A/B runs.
// MOUNT=0 serves the app through the adapter's listen() without app.use() (its routes answered
// by listen()). ROUTES=1 mounts what the examples mount (readiness, liveness and the admin route), so every
// request goes through their path checks; without it the adapter has its defaults.
// Prints {"event":"listening","pid":N} once it accepts.
const framework = process.env.FRAMEWORK;
const graceful = process.env.MODE === 'graceful';
const noop = process.env.MODE === 'noop';
// MOUNT=0 (express, koa, hono): the middleware is not app.use()d; listen() answers its routes.
const mount = process.env.MOUNT !== '0';
const port = Number(process.env.PORT);
const host = '127.0.0.1';
const body = () => `pid=${process.pid}\n`;
const options = {
  logger: false,
  ...(process.env.ROUTES === '1'
    ? {
        healthRoute: '/healthz',
        livenessRoute: '/livez',
        admin: { token: 'bench-token-0123456789abcdef0123456789' },
      }
    : {}),
};

if (framework === 'http') {
  const http = await import('node:http');
  const handler = (_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(body());
  };
  const server = http.createServer(handler);
  if (graceful) {
    // Plain node:http has no middleware: the library follows the server, and routes are the app's.
    const { createGraceful } = await import('@graceful-restart/core');
    const generation = createGraceful({ logger: false });
    await generation.listen(server, { name: 'web', host, port });
    await generation.ready();
  } else await new Promise((resolve) => server.listen(port, host, resolve));
} else if (framework === 'fastify') {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  if (graceful) {
    const { gracefulRestart } = await import('@graceful-restart/fastify');
    await app.register(gracefulRestart, options);
  }
  app.get('/', async () => body());
  await app.listen({ port, host });
} else if (framework === 'express') {
  const { default: express } = await import('express');
  const app = express();
  if (graceful) {
    const { expressGraceful } = await import('@graceful-restart/express');
    const middleware = expressGraceful(options);
    if (mount) app.use(middleware);
    app.get('/', (_req, res) => res.send(body()));
    await middleware.listen(app, { port, host });
  } else {
    if (noop) app.use((_req, _res, next) => next());
    app.get('/', (_req, res) => res.send(body()));
    await new Promise((resolve) => app.listen(port, host, resolve));
  }
} else if (framework === 'koa') {
  const { default: Koa } = await import('koa');
  const app = new Koa();
  const middleware = graceful
    ? (await import('@graceful-restart/koa')).koaGraceful(options)
    : undefined;
  if (middleware && mount) app.use(middleware);
  if (noop) app.use((_ctx, next) => next());
  app.use((ctx) => {
    ctx.body = body();
  });
  if (middleware) await middleware.listen(app, { port, host });
  else await new Promise((resolve) => app.listen(port, host, resolve));
} else if (framework === 'hono') {
  const { Hono } = await import('hono');
  const app = new Hono();
  const middleware = graceful
    ? (await import('@graceful-restart/hono')).honoGraceful(options)
    : undefined;
  if (middleware && mount) app.use(middleware);
  app.get('/', (c) => c.text(body()));
  if (middleware) await middleware.listen(app, { port, host });
  else {
    const { serve } = await import('@hono/node-server');
    await new Promise((resolve) => serve({ fetch: app.fetch, port, hostname: host }, resolve));
  }
} else {
  throw new Error(`FRAMEWORK must be http, fastify, express, koa or hono (got ${framework})`);
}
process.stdout.write(`${JSON.stringify({ event: 'listening', pid: process.pid })}\n`);
