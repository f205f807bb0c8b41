import type { Graceful } from '@graceful-restart/core';
import Koa from 'koa';
import request from 'supertest';
import { describe, expect, expectTypeOf, it } from 'vitest';
import koaGraceful, { koaGraceful as named } from '../src/index.js';

// In-process: no signals are installed and the process never exits.
const quiet = { logger: false, signals: false, exitProcess: false } as const;

function appWith(healthRoute: string | false = '/healthz') {
  const graceful = koaGraceful({ ...quiet, healthRoute });
  const app = new Koa();
  app.use(graceful);
  app.use((ctx) => {
    if (ctx.method === 'GET' && ctx.path === '/') ctx.body = `pid=${process.pid}`;
  });
  return { app, graceful };
}

describe('@graceful-restart/koa', () => {
  it('is exported as default and by name; .graceful is core Graceful', () => {
    expect(named).toBe(koaGraceful);
    const { graceful } = appWith();
    expectTypeOf(graceful.graceful).toEqualTypeOf<Graceful>();
    expect(graceful.graceful.state).toBe('starting');
  });

  it('the health route answers 200 while serving and 503 once shutting down for good', async () => {
    const { app, graceful } = appWith();
    const ok = await request(app.callback()).get('/healthz');
    expect([ok.status, ok.body]).toEqual([
      200,
      { status: 'ok', state: 'starting', pid: process.pid },
    ]);
    await graceful.graceful.shutdown();
    const down = await request(app.callback()).get('/healthz');
    expect([down.status, down.body]).toEqual([
      503,
      { status: 'shutting down', state: 'stopped', pid: process.pid },
    ]);
  });

  it('other requests, and other methods on the health path, go to the app', async () => {
    const { app } = appWith();
    expect((await request(app.callback()).get('/')).text).toBe(`pid=${process.pid}`);
    expect((await request(app.callback()).post('/healthz')).status).toBe(404);
    const { app: without } = appWith(false);
    expect((await request(without.callback()).get('/healthz')).status).toBe(404);
  });

  it('listen() binds through core, says ready and serves', async () => {
    const { app, graceful } = appWith();
    const server = await graceful.listen(app, { port: 0 });
    expect(graceful.graceful.state).toBe('serving');
    const [endpoint] = graceful.graceful.endpoints;
    expect(endpoint).toMatchObject({ name: 'web', origin: 'bound' });
    expect(await (await fetch(`http://127.0.0.1:${endpoint?.port}/`)).text()).toBe(
      `pid=${process.pid}`,
    );
    const report = await graceful.graceful.shutdown();
    expect(report.deadlineReached).toBe(false);
    expect(server.listening).toBe(false);
  });

  it('a bad option is a typed error naming it', () => {
    expect(() => koaGraceful({ ...quiet, readyTimeoutMs: -5 })).toThrow(
      expect.objectContaining({ code: 'ERR_GRACEFUL_INVALID_OPTION' }),
    );
  });
});
