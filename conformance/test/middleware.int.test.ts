// The express and koa middleware, one suite over supertest: exports, the health route, the
// listen helper and option errors behave the same in both.
import type { Server } from 'node:http';
import type { Graceful, ListenTarget } from '@graceful-restart/core';
import expressGraceful, { expressGraceful as expressNamed } from '@graceful-restart/express';
import koaGraceful, { koaGraceful as koaNamed } from '@graceful-restart/koa';
import express from 'express';
import Koa from 'koa';
import request from 'supertest';
import { describe, expect, expectTypeOf, it } from 'vitest';

// In-process: no signals are installed and the process never exits.
const quiet = { logger: false, signals: false, exitProcess: false } as const;

interface Made {
  /** What supertest drives: the app's request handler. */
  handler: Parameters<typeof request>[0];
  graceful: Graceful;
  listen(target: ListenTarget): Promise<Server>;
}

const adapters: Record<
  string,
  { factory: unknown; named: unknown; make(healthRoute: string | false): Made }
> = {
  express: {
    factory: expressGraceful,
    named: expressNamed,
    make(healthRoute) {
      const middleware = expressGraceful({ ...quiet, healthRoute });
      expectTypeOf(middleware.graceful).toEqualTypeOf<Graceful>();
      const app = express();
      app.use(middleware);
      app.get('/', (_req, res) => {
        res.send(`pid=${process.pid}`);
      });
      return {
        handler: app,
        graceful: middleware.graceful,
        listen: (t) => middleware.listen(app, t),
      };
    },
  },
  koa: {
    factory: koaGraceful,
    named: koaNamed,
    make(healthRoute) {
      const middleware = koaGraceful({ ...quiet, healthRoute });
      expectTypeOf(middleware.graceful).toEqualTypeOf<Graceful>();
      const app = new Koa();
      app.use(middleware);
      app.use((ctx) => {
        if (ctx.method === 'GET' && ctx.path === '/') ctx.body = `pid=${process.pid}`;
      });
      return {
        handler: app.callback(),
        graceful: middleware.graceful,
        listen: (t) => middleware.listen(app, t),
      };
    },
  },
};

describe.each(Object.keys(adapters))('@graceful-restart/%s middleware', (name) => {
  const adapter = adapters[name] as (typeof adapters)[string];

  it('is exported as default and by name; .graceful is core Graceful, starting', () => {
    expect(adapter.named).toBe(adapter.factory);
    expect(adapter.make('/healthz').graceful.state).toBe('starting');
  });

  it('the health route answers 200 while serving and 503 once shutting down for good', async () => {
    const { handler, graceful } = adapter.make('/healthz');
    const ok = await request(handler).get('/healthz');
    expect([ok.status, ok.body]).toEqual([
      200,
      { status: 'ok', state: 'starting', pid: process.pid },
    ]);
    await graceful.shutdown();
    const down = await request(handler).get('/healthz');
    expect([down.status, down.body]).toEqual([
      503,
      { status: 'shutting down', state: 'stopped', pid: process.pid },
    ]);
  });

  it('other requests, and other methods on the health path, go to the app', async () => {
    const { handler } = adapter.make('/healthz');
    expect((await request(handler).get('/')).text).toBe(`pid=${process.pid}`);
    expect((await request(handler).post('/healthz')).status).toBe(404);
    expect((await request(adapter.make(false).handler).get('/healthz')).status).toBe(404);
  });

  it('listen() binds through core, says ready and serves; shutdown closes the listener', async () => {
    const made = adapter.make('/healthz');
    const server = await made.listen({ port: 0 });
    expect(made.graceful.state).toBe('serving');
    const [endpoint] = made.graceful.endpoints;
    expect(endpoint).toMatchObject({ name: 'web', origin: 'bound' });
    expect(await (await fetch(`http://127.0.0.1:${endpoint?.port}/`)).text()).toBe(
      `pid=${process.pid}`,
    );
    const report = await made.graceful.shutdown();
    expect(report.deadlineReached).toBe(false);
    expect(server.listening).toBe(false);
  });

  it('a bad option is a typed error naming it', () => {
    expect(() =>
      (adapter.factory as typeof expressGraceful)({ ...quiet, readyTimeoutMs: -5 }),
    ).toThrow(
      expect.objectContaining({
        code: 'ERR_GRACEFUL_INVALID_OPTION',
        message: 'readyTimeoutMs must be a non-negative number of milliseconds (got -5).',
      }),
    );
  });
});
