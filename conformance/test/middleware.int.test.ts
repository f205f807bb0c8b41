import net from 'node:net';
// The express, koa and hono middleware, one suite over supertest: exports, the health route,
// the listen helper and option errors behave the same in all.

import { readFileSync } from 'node:fs';
import type { RequestListener, Server } from 'node:http';
import https from 'node:https';
import type { Graceful, ListenTarget, ServeTarget } from '@graceful-restart/core';
import expressGraceful, { expressGraceful as expressNamed } from '@graceful-restart/express';
import honoGraceful, { honoGraceful as honoNamed } from '@graceful-restart/hono';
import koaGraceful, { koaGraceful as koaNamed } from '@graceful-restart/koa';
import { getRequestListener } from '@hono/node-server';
import express from 'express';
import { Hono } from 'hono';
import Koa from 'koa';
import request from 'supertest';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';

// In-process: no signals are installed and the process never exits.
const quiet = { logger: false, signals: false, exitProcess: false } as const;

interface Made {
  /** What supertest drives: the app's request handler. */
  handler: Parameters<typeof request>[0];
  graceful: Graceful;
  listen(target: ListenTarget): Promise<Server>;
  listenAll(targets: ServeTarget[]): Promise<Server[]>;
  /** The app's request listener, for a server of one's own (https). */
  listener: RequestListener;
}

/**
 * One Graceful per process at a time: each make() lets go of the ones made before it (they
 * keep answering), and the last is released after the test.
 */
const made: Graceful[] = [];
const releaseAll = () => {
  for (const graceful of made.splice(0)) graceful.uninstall();
};
afterEach(releaseAll);
const tls = {
  key: readFileSync(new URL('../../packages/core/test/fixtures/key.pem', import.meta.url)),
  cert: readFileSync(new URL('../../packages/core/test/fixtures/cert.pem', import.meta.url)),
};

const adapters: Record<
  string,
  { factory: unknown; named: unknown; make(healthRoute: string | string[] | false): Made }
> = {
  express: {
    factory: expressGraceful,
    named: expressNamed,
    make(healthRoute) {
      releaseAll();
      const livenessRoute = healthRoute && '/livez';
      const middleware = expressGraceful({ ...quiet, healthRoute, livenessRoute });
      made.push(middleware.graceful);
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
        listenAll: (t) => middleware.listen(app, t),
        listener: app,
      };
    },
  },
  koa: {
    factory: koaGraceful,
    named: koaNamed,
    make(healthRoute) {
      releaseAll();
      const livenessRoute = healthRoute && '/livez';
      const middleware = koaGraceful({ ...quiet, healthRoute, livenessRoute });
      made.push(middleware.graceful);
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
        listenAll: (t) => middleware.listen(app, t),
        listener: app.callback(),
      };
    },
  },
  hono: {
    factory: honoGraceful,
    named: honoNamed,
    make(healthRoute) {
      releaseAll();
      const livenessRoute = healthRoute && '/livez';
      const middleware = honoGraceful({ ...quiet, healthRoute, livenessRoute });
      made.push(middleware.graceful);
      expectTypeOf(middleware.graceful).toEqualTypeOf<Graceful>();
      const app = new Hono();
      app.use(middleware);
      app.get('/', (c) => c.text(`pid=${process.pid}`));
      const listener = getRequestListener(app.fetch) as RequestListener;
      return {
        handler: listener,
        graceful: middleware.graceful,
        listen: (t) => middleware.listen(app, t),
        listenAll: (t) => middleware.listen(app, t),
        listener,
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

  it('readiness answers 503 before ready, 200 while serving, 503 once shutting down for good; liveness 200 throughout', async () => {
    const { handler, graceful, listen } = adapter.make(['/healthz', '/readyz']);
    const before = await request(handler).get('/readyz');
    expect([before.status, before.body]).toEqual([
      503,
      { status: 'starting', state: 'starting', pid: process.pid },
    ]);
    expect((await request(handler).get('/livez')).status).toBe(200);
    await listen({ port: 0 });
    for (const path of ['/healthz', '/readyz']) {
      const ok = await request(handler).get(path);
      expect([ok.status, ok.body]).toEqual([
        200,
        { status: 'ok', state: 'serving', pid: process.pid },
      ]);
    }
    graceful.setReady(false, 'database unreachable');
    expect((await request(handler).get('/readyz')).body).toEqual({
      status: 'not ready',
      state: 'serving',
      pid: process.pid,
      reason: 'database unreachable',
    });
    graceful.setReady(true);
    await graceful.shutdown();
    const down = await request(handler).get('/healthz');
    expect([down.status, down.body]).toEqual([
      503,
      { status: 'shutting down', state: 'stopped', pid: process.pid },
    ]);
    const live = await request(handler).get('/livez');
    expect([live.status, live.body]).toEqual([
      200,
      { status: 'ok', state: 'stopped', pid: process.pid },
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
        message: 'readyTimeoutMs must be a non-negative number of milliseconds (got number -5).',
      }),
    );
  });

  it('a misspelt option is refused with the closest valid name, not ignored', () => {
    const factory = adapter.factory as typeof expressGraceful;
    for (const [wrong, right] of [
      ['readyTimeout', 'readyTimeoutMs'],
      ['pidfile', 'pidFile'],
      ['healthroute', 'healthRoute'],
    ] as const) {
      expect(() => factory({ ...quiet, [wrong]: 1 } as never)).toThrow(
        expect.objectContaining({
          code: 'ERR_GRACEFUL_INVALID_OPTION',
          message: expect.stringContaining(`Unknown option "${wrong}": did you mean "${right}"?`),
        }),
      );
    }
    expect(() => factory({ ...quiet, signals: ['SIGHUP'] } as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_GRACEFUL_INVALID_SIGNAL',
        message: expect.stringContaining('signals must be { restart?: [...], shutdown?: [...] }'),
      }),
    );
    expect(() => factory({ ...quiet, admin: { tokn: 'x'.repeat(40) } } as never)).toThrow(
      expect.objectContaining({ message: expect.stringContaining('"admin.token"') }),
    );
  });

  it('a second instance beside one that handles signals is refused with a typed error; after uninstall() one may be made', () => {
    const factory = adapter.factory as typeof expressGraceful;
    // The first handles signals, as a server does: a second would restart the process too.
    const first = factory({ logger: false, exitProcess: false });
    expect(() => factory(quiet)).toThrow(
      expect.objectContaining({ code: 'ERR_GRACEFUL_DUPLICATE_INSTANCE' }),
    );
    first.graceful.uninstall();
    const second = factory(quiet);
    expect(second.graceful.state).toBe('starting');
    second.graceful.uninstall();
  });

  it('listen() takes a port as a string of digits (process.env.PORT), and names a bad one with its type', async () => {
    const { port } = await (async () => {
      const probe = adapter.make(false);
      await probe.listen({ port: 0 });
      const endpoint = probe.graceful.endpoints[0] as { port: number };
      await probe.graceful.shutdown();
      probe.graceful.uninstall();
      return endpoint;
    })();
    const app = adapter.make(false);
    await app.listen(String(port));
    expect(app.graceful.endpoints[0]).toMatchObject({ port, address: `127.0.0.1:${port}` });
    await app.graceful.shutdown();
    app.graceful.uninstall();
    await expect(adapter.make(false).listen(undefined as never)).rejects.toThrow(
      /port must be an integer from 0 to 65535, or a string of its digits \(got undefined\)/,
    );
  });

  it('a server its owner closes lets go of its port at once, with the rollback duplicates held since ready', async () => {
    const app = adapter.make(false);
    const server = await app.listen({ port: 0 });
    const { port } = app.graceful.endpoints[0] as { port: number };
    // The duplicates are taken after ready (a helper passes them back): let them arrive.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Nothing listens on the port any more: a connection is refused, a new server may bind it.
    const refused = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    const again = net.createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => again.close(resolve));
    await app.graceful.shutdown();
    app.graceful.uninstall();
  });

  it('listen() with several targets: http and https through one generation, ready once both listen', async () => {
    const app = adapter.make(false);
    const secure = https.createServer(tls, app.listener);
    const servers = await app.listenAll([{ port: 0 }, { name: 'https', port: 0, server: secure }]);
    expect(servers[1]).toBe(secure);
    expect(app.graceful.state).toBe('serving');
    const [plain, tlsEndpoint] = app.graceful.endpoints as { name: string; port: number }[];
    expect([plain?.name, tlsEndpoint?.name]).toEqual(['web', 'https']);
    expect(await (await fetch(`http://127.0.0.1:${plain?.port}/`)).text()).toBe(
      `pid=${process.pid}`,
    );
    const answer = await new Promise<string>((resolve, reject) => {
      https
        .get(
          { host: '127.0.0.1', port: tlsEndpoint?.port, path: '/', rejectUnauthorized: false },
          (res) => {
            let body = '';
            res.on('data', (chunk) => (body += chunk));
            res.on('end', () => resolve(body));
          },
        )
        .on('error', reject);
    });
    expect(answer).toBe(`pid=${process.pid}`);
    await app.graceful.shutdown();
    expect(servers.every((server) => !server.listening)).toBe(true);
  });
});

/**
 * An app of each framework whose own middleware marks every response it sees (`x-app-saw`),
 * with ours mounted (app.use) or not, served by our listen(): only a mounted middleware puts
 * the routes inside the app; unmounted, listen() answers them and the app never sees them.
 */
const routesApps: Record<
  string,
  (mount: boolean) => { graceful: Graceful; serve(): Promise<Server> }
> = {
  express(mount) {
    const middleware = expressGraceful({ ...routeOptions });
    const app = express();
    app.use((_req, res, next) => {
      res.set('x-app-saw', '1');
      next();
    });
    if (mount) app.use(express.Router().use(middleware));
    app.get('/', (_req, res) => {
      res.send(`pid=${process.pid}`);
    });
    return { graceful: middleware.graceful, serve: () => middleware.listen(app, { port: 0 }) };
  },
  koa(mount) {
    const middleware = koaGraceful({ ...routeOptions });
    const app = new Koa();
    app.use((ctx, next) => {
      ctx.set('x-app-saw', '1');
      return next();
    });
    if (mount) app.use(middleware);
    app.use((ctx) => {
      if (ctx.path === '/') ctx.body = `pid=${process.pid}`;
    });
    return { graceful: middleware.graceful, serve: () => middleware.listen(app, { port: 0 }) };
  },
  hono(mount) {
    const middleware = honoGraceful({ ...routeOptions });
    const app = new Hono();
    app.use(async (c, next) => {
      await next();
      c.header('x-app-saw', '1');
    });
    if (mount) app.use(middleware);
    app.get('/', (c) => c.text(`pid=${process.pid}`));
    return { graceful: middleware.graceful, serve: () => middleware.listen(app, { port: 0 }) };
  },
};
const routeOptions = {
  ...quiet,
  healthRoute: '/healthz',
  livenessRoute: '/livez',
  admin: { token: 'conformance-token-0123456789abcdef0123' },
} as const;

describe.each(Object.keys(routesApps))('@graceful-restart/%s served by listen()', (name) => {
  it.each([true, false])(
    'middleware mounted: %s; the health, liveness and admin routes answer alike; only a mounted middleware runs inside the app',
    async (mount) => {
      releaseAll();
      const served = (routesApps[name] as (typeof routesApps)[string])(mount);
      made.push(served.graceful);
      const server = await served.serve();
      const { port } = server.address() as { port: number };
      const at = (path: string, init?: RequestInit) =>
        fetch(`http://127.0.0.1:${port}${path}`, init);
      const ready = await at('/healthz?probe=1');
      expect([ready.status, await ready.json()]).toEqual([
        200,
        { status: 'ok', state: 'serving', pid: process.pid },
      ]);
      expect(ready.headers.get('content-type')).toMatch(/^application\/json/);
      expect(ready.headers.get('x-app-saw')).toBe(mount ? '1' : null);
      expect((await at('/livez')).status).toBe(200);
      expect((await at('/livez', { method: 'HEAD' })).status).toBe(200);
      const admin = await at('/graceful/status');
      expect(admin.status).toBe(401);
      expect(await admin.text()).not.toContain('conformance-token');
      const app = await at('/');
      expect([app.status, await app.text()]).toEqual([200, `pid=${process.pid}`]);
      expect(app.headers.get('x-app-saw')).toBe('1');
      // Other methods on the health path are the app's.
      expect((await at('/healthz', { method: 'POST' })).status).toBe(404);
      await served.graceful.shutdown();
    },
  );
});
