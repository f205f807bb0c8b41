// One route (GET / -> "pid=N") on FRAMEWORK (fastify | express | koa), bare (MODE=bare), with
// its graceful-restart adapter (MODE=graceful), or (express and koa) with an empty middleware
// (MODE=noop: what any `app.use()` costs), for the adapter overhead A/B runs.
// Prints {"event":"listening","pid":N} once it accepts.
const framework = process.env.FRAMEWORK;
const graceful = process.env.MODE === 'graceful';
const noop = process.env.MODE === 'noop';
const port = Number(process.env.PORT);
const host = '127.0.0.1';
const body = () => `pid=${process.pid}\n`;

if (framework === 'fastify') {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  if (graceful) {
    const { gracefulRestart } = await import('@graceful-restart/fastify');
    await app.register(gracefulRestart, { logger: false });
  }
  app.get('/', async () => body());
  await app.listen({ port, host });
} else if (framework === 'express') {
  const { default: express } = await import('express');
  const app = express();
  if (graceful) {
    const { expressGraceful } = await import('@graceful-restart/express');
    const middleware = expressGraceful({ logger: false });
    app.use(middleware);
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
    ? (await import('@graceful-restart/koa')).koaGraceful({ logger: false })
    : undefined;
  if (middleware) app.use(middleware);
  if (noop) app.use((_ctx, next) => next());
  app.use((ctx) => {
    ctx.body = body();
  });
  if (middleware) await middleware.listen(app, { port, host });
  else await new Promise((resolve) => app.listen(port, host, resolve));
} else {
  throw new Error(`FRAMEWORK must be fastify, express or koa (got ${framework})`);
}
process.stdout.write(`${JSON.stringify({ event: 'listening', pid: process.pid })}\n`);
