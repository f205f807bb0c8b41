import { readFileSync } from 'node:fs';
import type { Graceful } from '@graceful-restart/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import gracefulRestart, {
  type FastifyGracefulOptions,
  gracefulRestart as named,
} from '../src/index.js';

// In-process: no signals are installed and the process never exits, so tests can listen and
// shut down real servers on 127.0.0.1.
const quiet: FastifyGracefulOptions = { logger: false, signals: false, exitProcess: false };

const apps: FastifyInstance[] = [];
function app(options: Record<string, unknown> = {}): FastifyInstance {
  // Fastify's overloads pick the server type from the options; these tests only need the base.
  const instance = Fastify(options) as unknown as FastifyInstance;
  apps.push(instance);
  return instance;
}
afterEach(async () => {
  for (const instance of apps.splice(0)) await instance.close().catch(() => undefined);
});

describe('@graceful-restart/fastify', () => {
  it('is a fastify-plugin for fastify 5.x, exported as default and by name', () => {
    expect(named).toBe(gracefulRestart);
    const meta = (gracefulRestart as unknown as Record<symbol, unknown>)[Symbol.for('plugin-meta')];
    expect(meta).toMatchObject({ name: '@graceful-restart/fastify', fastify: '5.x' });
  });

  it('decorates fastify.graceful, typed as core Graceful', async () => {
    const fastify = app();
    await fastify.register(gracefulRestart, quiet);
    expectTypeOf(fastify.graceful).toEqualTypeOf<Graceful>();
    expect(fastify.graceful.state).toBe('starting');
    expect(fastify.graceful.shuttingDown).toBe(false);
  });

  it('says ready once fastify.listen() resolves, on a socket it bound itself', async () => {
    const fastify = app();
    await fastify.register(gracefulRestart, quiet);
    fastify.get('/', async () => 'hello');
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    await expect.poll(() => fastify.graceful.state).toBe('serving');
    const { port } = fastify.server.address() as { port: number };
    expect(fastify.graceful.endpoints).toEqual([
      { name: 'web', origin: 'bound', address: `127.0.0.1:${port}`, port },
    ]);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('hello');
  });

  it('healthRoute: 200 while serving, 503 once shutting down for good', async () => {
    const fastify = app();
    await fastify.register(gracefulRestart, { ...quiet, healthRoute: '/healthz' });
    let received: () => void = () => {};
    const arrived = new Promise<void>((resolve) => {
      received = resolve;
    });
    let release: () => void = () => {};
    fastify.get('/hold', async () => {
      received();
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return 'released';
    });
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    await expect.poll(() => fastify.graceful.state).toBe('serving');
    expect((await fastify.inject('/healthz')).json()).toMatchObject({
      status: 'ok',
      state: 'serving',
    });
    // A request in flight keeps the drain open while the route is asked.
    const { port } = fastify.server.address() as { port: number };
    const held = fetch(`http://127.0.0.1:${port}/hold`).then((r) => r.text());
    await arrived;
    const shutdown = fastify.graceful.shutdown();
    const answer = await fastify.inject('/healthz');
    expect([answer.statusCode, answer.json()]).toEqual([
      503,
      { status: 'shutting down', state: 'stopping', pid: process.pid },
    ]);
    release();
    expect(await held).toBe('released');
    expect((await shutdown).requestsCompleted).toBeGreaterThanOrEqual(1);
  });

  it('request.drainSignal: an SSE route hears the drain, sends its last event and ends; shutdown needs no deadline', async () => {
    const fastify = app();
    await fastify.register(gracefulRestart, quiet);
    fastify.get('/events', (request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      reply.raw.write('data: hello\n\n');
      request.drainSignal.addEventListener('abort', () =>
        reply.raw.end('retry: 1000\ndata: bye\n\n'),
      );
    });
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    await expect.poll(() => fastify.graceful.state).toBe('serving');
    const { port } = fastify.server.address() as { port: number };
    const response = await fetch(`http://127.0.0.1:${port}/events`);
    const body = response.text();
    // The generation's own signal has not fired while it serves.
    expect(fastify.graceful.drainSignal().aborted).toBe(false);
    const report = await fastify.graceful.shutdown();
    expect(await body).toBe('data: hello\n\nretry: 1000\ndata: bye\n\n');
    expect(report).toMatchObject({ deadlineReached: false, cut: [] });
    expect(fastify.graceful.drainSignal().aborted).toBe(true);
  });

  it('readiness on several paths and liveness: setReady(false) and under-pressure make readiness 503, liveness stays 200', async () => {
    const fastify = app();
    await fastify.register(gracefulRestart, {
      ...quiet,
      healthRoute: ['/healthz', '/readyz'],
      livenessRoute: '/livez',
    });
    let pressed = false;
    fastify.decorate('isUnderPressure', () => pressed);
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    await expect.poll(() => fastify.graceful.state).toBe('serving');
    for (const path of ['/healthz', '/readyz', '/livez']) {
      expect((await fastify.inject(path)).statusCode, path).toBe(200);
    }
    fastify.graceful.setReady(false, 'database unreachable');
    const notReady = await fastify.inject('/readyz');
    expect([notReady.statusCode, notReady.json()]).toEqual([
      503,
      { status: 'not ready', state: 'serving', pid: process.pid, reason: 'database unreachable' },
    ]);
    expect((await fastify.inject('/livez')).statusCode).toBe(200);
    fastify.graceful.setReady(true);
    pressed = true;
    expect((await fastify.inject('/healthz')).json()).toMatchObject({
      status: 'not ready',
      reason: 'under pressure',
    });
    pressed = false;
    expect((await fastify.inject('/healthz')).statusCode).toBe(200);
  });

  it('healthRoute that is no path is refused with a typed error naming it', async () => {
    const fastify = app();
    await expect(
      fastify.register(gracefulRestart, { ...quiet, healthRoute: 'healthz' }),
    ).rejects.toMatchObject({
      code: 'ERR_GRACEFUL_INVALID_OPTION',
      message: expect.stringContaining('healthRoute must be a path'),
    });
  });

  it('underPressure: registers @fastify/under-pressure with a status route', async () => {
    const fastify = app();
    await fastify.register(gracefulRestart, { ...quiet, underPressure: true });
    const status = await fastify.inject('/status');
    expect([status.statusCode, status.json()]).toEqual([200, { status: 'ok' }]);
  });

  it('a bad option fails registration with a typed error naming it', async () => {
    const fastify = app();
    await expect(
      fastify.register(gracefulRestart, { ...quiet, drain: { deadlineMs: -1 } }),
    ).rejects.toMatchObject({
      code: 'ERR_GRACEFUL_INVALID_OPTION',
      message: 'drain.deadlineMs must be a non-negative number of milliseconds (got number -1).',
    });
  });

  it("a misspelt option is refused with the closest valid name; fastify's own register options pass", async () => {
    await expect(
      app().register(gracefulRestart, { ...quiet, listnerName: 'api' } as never),
    ).rejects.toMatchObject({
      code: 'ERR_GRACEFUL_INVALID_OPTION',
      message: expect.stringContaining(
        'Unknown option "listnerName": did you mean "listenerName"?',
      ),
    });
    const fastify = app();
    await fastify.register(gracefulRestart, { ...quiet, logLevel: 'warn' } as never);
    await fastify.ready();
    expect(fastify.graceful.state).toBe('starting');
  });

  it('a PID file in a missing directory fails registration, before anything listens', async () => {
    await expect(
      app().register(gracefulRestart, { ...quiet, pidFile: '/nonexistent-dir/app.pid' }),
    ).rejects.toMatchObject({
      code: 'ERR_GRACEFUL_PID_FILE_FAILED',
      message: expect.stringContaining('Check that its directory exists and is writable'),
    });
  });

  it('a host name other than localhost is refused with the fix spelt for fastify.listen()', async () => {
    const fastify = app();
    await fastify.register(gracefulRestart, quiet);
    await expect(fastify.listen({ host: 'example.invalid', port: 0 })).rejects.toMatchObject({
      code: 'ERR_GRACEFUL_INVALID_LISTENER',
      message: expect.stringContaining("fastify.listen({ host: '127.0.0.1', port })"),
    });
  });

  it("https on 'localhost' that resolves to several addresses is refused with a clear error", async () => {
    const cert = new URL('../../core/test/fixtures/', import.meta.url);
    const fastify = app({
      https: {
        key: readFileSync(new URL('key.pem', cert)),
        cert: readFileSync(new URL('cert.pem', cert)),
      },
    });
    await fastify.register(gracefulRestart, quiet);
    const dns = await import('node:dns');
    const lookup = dns.promises.lookup;
    // As most hosts files answer: localhost is 127.0.0.1 and ::1.
    dns.promises.lookup = (async () => [
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ]) as unknown as typeof lookup;
    try {
      await expect(fastify.listen({ port: 0, host: 'localhost' })).rejects.toMatchObject({
        code: 'ERR_GRACEFUL_INVALID_LISTENER',
        message: expect.stringContaining('Listen on one address, e.g. { host: "127.0.0.1" }'),
      });
    } finally {
      dns.promises.lookup = lookup;
    }
  });
});
