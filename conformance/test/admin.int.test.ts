// The admin route contract, asserted row by row against every adapter over supertest. The
// restart itself runs for real: stand-in successors (fixtures/) are spawned and say ready, crash
// or hang.
import type { Server } from 'node:http';
import type { AdminOptions, Graceful, Logger } from '@graceful-restart/core';
import { expressGraceful } from '@graceful-restart/express';
import { gracefulRestart } from '@graceful-restart/fastify';
import { honoGraceful } from '@graceful-restart/hono';
import { koaGraceful } from '@graceful-restart/koa';
import { getRequestListener } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import request from 'supertest';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

const TOKEN = 'a-secret-of-forty-characters-0123456789ab';
const WRONG = 'b-secret-of-forty-characters-0123456789ab';
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const fixture = (name: string) => new URL(`./fixtures/${name}.mjs`, import.meta.url).pathname;

/** Every line any adapter logged during the suite: the secret must never be among them. */
const logged: string[] = [];
const logger: Logger = {
  info: (line) => logged.push(line),
  warn: (line) => logged.push(line),
  error: (line) => logged.push(line),
};
/** Every response body of the suite, checked the same way. */
const answered: string[] = [];

interface Options {
  admin?: AdminOptions | boolean;
  successor?: 'ready' | 'fail' | 'hang' | 'crash';
  readyTimeoutMs?: number;
}

interface Target {
  /** The app's server (or request handler) and its Graceful, serving. */
  make(
    options: Options,
  ): Promise<{ server: Server | Parameters<typeof request>[0]; graceful: Graceful }>;
}

function coreOptions(options: Options) {
  return {
    logger,
    signals: false as const,
    exitProcess: false,
    readyTimeoutMs: options.readyTimeoutMs ?? 10_000,
    command: { execPath: process.execPath, args: [fixture(options.successor ?? 'ready')] },
    admin: options.admin ?? { token: TOKEN },
  };
}

/**
 * One Graceful per process at a time: each target lets go of the ones made before it (they
 * keep answering supertest's requests), and the last is released after the test.
 */
const made: Graceful[] = [];
const releaseAll = () => {
  for (const graceful of made.splice(0)) graceful.uninstall();
};
afterEach(releaseAll);
const keep = <T extends { graceful: Graceful }>(target: T): T => {
  made.push(target.graceful);
  return target;
};

const targets: Record<string, Target> = {
  fastify: {
    async make(options) {
      releaseAll();
      const app = Fastify();
      await app.register(gracefulRestart, coreOptions(options));
      await app.ready();
      // Serving, as after listen(): supertest brings its own socket.
      await app.graceful.ready();
      return keep({ server: app.server, graceful: app.graceful });
    },
  },
  express: {
    async make(options) {
      releaseAll();
      const graceful = expressGraceful(coreOptions(options));
      const app = express();
      app.use(express.json());
      app.use(graceful);
      await graceful.graceful.ready();
      return keep({ server: app, graceful: graceful.graceful });
    },
  },
  koa: {
    async make(options) {
      releaseAll();
      const graceful = koaGraceful(coreOptions(options));
      const app = new Koa();
      app.use(graceful);
      await graceful.graceful.ready();
      return keep({ server: app.callback(), graceful: graceful.graceful });
    },
  },
  hono: {
    async make(options) {
      releaseAll();
      const graceful = honoGraceful(coreOptions(options));
      const app = new Hono();
      app.use(graceful);
      await graceful.graceful.ready();
      // As @hono/node-server serves it: the node request reaches the middleware as c.env.
      return keep({ server: getRequestListener(app.fetch), graceful: graceful.graceful });
    },
  },
};

/** Registration (fastify) or construction (express, koa, hono) with these admin options. */
async function register(name: string, admin: AdminOptions | boolean): Promise<unknown> {
  try {
    await targets[name]?.make({ admin });
  } catch (error) {
    return error;
  }
  return undefined;
}

const record = <T extends { text: string }>(response: T): T => {
  answered.push(response.text);
  return response;
};

afterAll(() => {
  expect(logged.length).toBeGreaterThan(0);
  for (const line of [...logged, ...answered]) expect(line).not.toContain(TOKEN);
});

describe.each(Object.keys(targets))('admin route on %s', (name) => {
  const make = (options: Options = {}) =>
    targets[name]?.make(options) as ReturnType<Target['make']>;

  it('is off unless configured, and refuses to start without a secret of 32 bytes or more', async () => {
    const { server } = await make({ admin: false });
    expect((await request(server).post('/graceful').set(auth(TOKEN))).status).toBe(404);
    const saved = process.env['GRACEFUL_RESTART_TOKEN'];
    delete process.env['GRACEFUL_RESTART_TOKEN'];
    try {
      for (const admin of [true, {}, { token: 'too-short-secret' }]) {
        const error = (await register(name, admin)) as { code?: string; message?: string };
        expect(error?.code).toBe('ERR_GRACEFUL_INVALID_OPTION');
        expect(error?.message).toContain('GRACEFUL_RESTART_TOKEN');
        expect(error?.message).toContain('at least 32 bytes');
        expect(error?.message).not.toContain('too-short-secret');
      }
      process.env['GRACEFUL_RESTART_TOKEN'] = TOKEN;
      expect(await register(name, true)).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env['GRACEFUL_RESTART_TOKEN'];
      else process.env['GRACEFUL_RESTART_TOKEN'] = saved;
    }
  });

  it('the answer to a caller without credentials does not depend on the body: 401 for any content type, a 5 MiB body included', async () => {
    const { server } = await make();
    for (const [type, body] of [
      ['application/octet-stream', Buffer.alloc(5 * 1024 * 1024, 1)],
      ['text/plain', 'restart please'],
      ['application/x-unknown', 'x'],
    ] as const) {
      const response = record(
        await request(server).post('/graceful').set('Content-Type', type).send(body),
      );
      expect(response.status, type).toBe(401);
    }
  });

  it('401 with WWW-Authenticate: Bearer for a missing, wrong or misplaced token; nothing restarts', async () => {
    const { server, graceful } = await make();
    const attempts = [
      request(server).post('/graceful'),
      request(server).post('/graceful').set(auth(WRONG)),
      request(server).post('/graceful').set(auth('short')),
      request(server).post('/graceful').set('Authorization', TOKEN),
      request(server).post('/graceful').set('Authorization', `Basic ${TOKEN}`),
      request(server).post(`/graceful?token=${TOKEN}&access_token=${TOKEN}`),
      request(server).post('/graceful').send({ token: TOKEN }),
    ];
    for (const attempt of attempts) {
      const response = record(await attempt);
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer');
      expect(response.body).toEqual({
        error: {
          code: 'unauthorized',
          message: 'A valid "Authorization: Bearer <token>" is required.',
        },
      });
    }
    expect(graceful.state).toBe('serving');
    expect(graceful.lastRestart).toBeUndefined();
  });

  it('400 for a repeated Authorization header, even when the first is right; nothing restarts', async () => {
    const { server, graceful } = await make();
    for (const pair of [
      [`Bearer ${TOKEN}`, `Bearer ${WRONG}`],
      [`Bearer ${WRONG}`, `Bearer ${TOKEN}`],
      [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`],
    ]) {
      // An array goes out as one header line per value (the types only admit it for Cookie).
      const repeated = pair as unknown as string;
      const response = record(
        await request(server).post('/graceful').set('Authorization', repeated),
      );
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        error: { code: 'bad_request', message: 'Send exactly one Authorization header.' },
      });
    }
    expect(graceful.state).toBe('serving');
    expect(graceful.lastRestart).toBeUndefined();
  });

  it('403 outside the allow list; X-Forwarded-For counts only with trustProxy', async () => {
    const outside = await make({ admin: { token: TOKEN, allow: ['10.0.0.0/8'] } });
    const refused = record(
      await request(outside.server)
        .post('/graceful')
        .set(auth(TOKEN))
        .set('X-Forwarded-For', '10.1.2.3'),
    );
    expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
    expect(outside.graceful.state).toBe('serving');

    const behindProxy = await make({
      admin: { token: TOKEN, allow: ['10.0.0.0/8'], trustProxy: true },
    });
    const viaProxy = request(behindProxy.server)
      .post('/graceful')
      .set('X-Forwarded-For', '10.1.2.3');
    expect((await viaProxy).status).toBe(401);
    const spoofed = request(behindProxy.server)
      .post('/graceful')
      .set(auth(TOKEN))
      .set('X-Forwarded-For', '10.1.2.3, 192.168.1.1');
    expect((await spoofed).status).toBe(403);
  });

  it('405 with Allow for other methods', async () => {
    const { server } = await make();
    const get = record(await request(server).get('/graceful').set(auth(TOKEN)));
    expect([get.status, get.headers['allow'], get.body.error.code]).toEqual([
      405,
      'POST',
      'method_not_allowed',
    ]);
    const post = record(await request(server).post('/graceful/status').set(auth(TOKEN)));
    expect([post.status, post.headers['allow']]).toEqual([405, 'GET']);
  });

  it('429 with Retry-After after repeated failures from one address, even with the right token', async () => {
    const { server, graceful } = await make({
      admin: { token: TOKEN, rateLimit: { max: 3, windowMs: 60_000 } },
    });
    for (let i = 0; i < 3; i++) {
      expect((await request(server).post('/graceful').set(auth(WRONG))).status).toBe(401);
    }
    const limited = record(await request(server).post('/graceful').set(auth(TOKEN)));
    expect([limited.status, limited.body.error.code]).toEqual([429, 'too_many_requests']);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(graceful.state).toBe('serving');
  });

  it('202 with { state, pid } when the restart starts; 409 for a second one meanwhile', async () => {
    const { server, graceful } = await make();
    const started = record(await request(server).post('/graceful').set(auth(TOKEN)));
    expect([started.status, started.body]).toEqual([
      202,
      { state: 'restarting', pid: process.pid },
    ]);
    const second = record(await request(server).post('/graceful').set(auth(TOKEN)));
    expect([second.status, second.body.error.code]).toEqual([409, 'conflict']);
    await expect.poll(() => graceful.lastRestart?.ok, { timeout: 10_000 }).toBe(true);
  });

  it('?wait=true: 200 with { oldPid, newPid, durationMs, cwd, command } once the successor is ready', async () => {
    const { server } = await make();
    const done = record(await request(server).post('/graceful?wait=true').set(auth(TOKEN)));
    expect(done.status).toBe(200);
    expect(done.body).toEqual({
      oldPid: process.pid,
      newPid: expect.any(Number),
      durationMs: expect.any(Number),
      cwd: expect.any(String),
      command: expect.stringMatching(/^node .*ready\.mjs$/),
    });
    expect(done.body.newPid).not.toBe(process.pid);
  });

  it('?wait=true: 502 when the successor crashes, 504 when it is not ready in time; still serving', async () => {
    const crashing = await make({ successor: 'fail' });
    const failed = record(
      await request(crashing.server).post('/graceful?wait=true').set(auth(TOKEN)),
    );
    expect([failed.status, failed.body.error.code]).toEqual([502, 'restart_failed']);
    expect(failed.body.error.message).toContain('exit code 3');
    expect(crashing.graceful.state).toBe('serving');

    const hanging = await make({ successor: 'hang', readyTimeoutMs: 300 });
    const late = record(await request(hanging.server).post('/graceful?wait=true').set(auth(TOKEN)));
    expect([late.status, late.body.error.code]).toEqual([504, 'restart_timeout']);
    expect(hanging.graceful.state).toBe('serving');

    const status = record(await request(hanging.server).get('/graceful/status').set(auth(TOKEN)));
    expect(status.body.lastRestart).toEqual({
      ok: false,
      error: { code: 'ERR_GRACEFUL_READY_TIMEOUT', message: expect.stringContaining('300 ms') },
    });
  });

  it('?wait=true: 502 when the next generation dies on probation after ready; rolled back, still serving', async () => {
    const { server, graceful } = await make({ successor: 'crash' });
    const rolled = record(await request(server).post('/graceful?wait=true').set(auth(TOKEN)));
    expect([rolled.status, rolled.body.error.code]).toEqual([502, 'restart_failed']);
    expect(rolled.body.error.message).toMatch(/died \d+ ms after it was ready.*probation/);
    expect(graceful.state).toBe('serving');
    const status = record(await request(server).get('/graceful/status').set(auth(TOKEN)));
    expect(status.body.lastRestart).toMatchObject({
      ok: false,
      error: { code: 'ERR_GRACEFUL_ROLLED_BACK' },
    });
  });

  it('GET /graceful/status: state, pid, uptime and the last restart, behind the same authentication', async () => {
    const { server } = await make({ admin: { token: TOKEN, path: '/ops/restart' } });
    expect((await request(server).get('/ops/restart/status')).status).toBe(401);
    const status = record(await request(server).get('/ops/restart/status').set(auth(TOKEN)));
    expect(status.status).toBe(200);
    expect(status.body).toEqual({
      state: 'serving',
      pid: process.pid,
      uptimeMs: expect.any(Number),
      draining: [],
      lastRestart: null,
    });
    expect((await request(server).post('/graceful').set(auth(TOKEN))).status).toBe(404);
  });
});
