// Every example keeps the examples contract (shared EXAMPLES.md): env, routes, signals.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Endpoint,
  freePort,
  get,
  pidAt,
  pidIn,
} from '../../packages/core/test/helpers/http.js';
import { HttpLoad } from '../../packages/core/test/helpers/load.js';
import {
  Fixture,
  isAlive,
  poll,
  sleep,
  waitForExit,
  waitUntil,
} from '../../packages/core/test/helpers/process.js';

const EXAMPLES = ['http', 'fastify', 'express', 'koa'] as const;
const entryOf = (example: string) => new URL(`../${example}/server.mjs`, import.meta.url).pathname;

const TOKEN = 'an-admin-secret-for-the-examples-0123456789';

/** Every example process a test started: ended after it, and checked for the secret. */
const started: Fixture[] = [];
function launch(example: string, env: Record<string, string>): Fixture {
  // Info-level logs, so that the check below reads everything the examples say.
  const f = new Fixture(entryOf(example), { LOG_LEVEL: 'info', ...env });
  started.push(f);
  return f;
}
afterEach(async () => {
  for (const f of started.splice(0)) {
    await f.kill();
    // Whatever a test did, no generation ever logged the admin secret.
    for (const line of [...f.stdout, ...f.stderr]) expect(line).not.toContain(TOKEN);
  }
});

/** Starts the example and resolves once it answers; every pid it answers with is ended after. */
async function startExample(example: string, env: Record<string, string>, endpoint: Endpoint) {
  const f = launch(example, env);
  const pid = await poll(async () => pidIn((await get(endpoint)).body) || undefined, 10_000);
  expect(pid).toBe(f.first.pid);
  return f;
}

/**
 * SIGHUP `pid`; resolves with the pid that then answers. With `expectNew` (the default) a
 * restart that leaves `pid` serving fails the test; without it, `pid` is the expected answer.
 */
async function restart(f: Fixture, endpoint: Endpoint, pid: number, expectNew = true) {
  process.kill(pid, 'SIGHUP');
  const next = await poll(
    async () => {
      const served = pidIn((await get(endpoint)).body);
      return served && served !== pid ? served : undefined;
    },
    expectNew ? 10_000 : 1500,
  );
  if (next) f.pids.add(next);
  if (expectNew && !next) throw new Error(`pid ${pid} still serves 10 s after SIGHUP`);
  return next ?? pid;
}

describe.each(EXAMPLES)('examples/%s', (example) => {
  it('10 SIGHUPs under 50 busy keep-alive clients: 0 failed requests, each new pid serving, PID_FILE follows it', async () => {
    const dir = mkdtempSync('/tmp/gr-ex-');
    const pidFile = `${dir}/app.pid`;
    const port = await freePort();
    const endpoint = { host: '127.0.0.1', port };
    const f = await startExample(example, { PORT: String(port), PID_FILE: pidFile }, endpoint);
    // Written once the generation is ready, which may follow its first answer by a moment.
    const pidFileSays = (pid: number | undefined) => () =>
      existsSync(pidFile) && readFileSync(pidFile, 'utf8') === `${pid}\n`;
    expect(await waitUntil(pidFileSays(f.first.pid), 2000)).toBe(true);
    const load = new HttpLoad({ port, connections: 50, keepAlive: true });
    let pid = f.first.pid as number;
    const generations = [pid];
    for (let i = 0; i < 10; i++) {
      const next = await restart(f, endpoint, pid);
      expect(next).not.toBe(pid);
      expect(await waitUntil(pidFileSays(next), 2000), `PID_FILE names ${next}`).toBe(true);
      pid = next;
      generations.push(pid);
    }
    await sleep(200);
    const stats = await load.stop();
    expect(stats.failureSamples).toEqual([]);
    expect(stats.ok).toBe(stats.requests);
    expect(stats.pids.get(pid)).toBeGreaterThan(0);
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
    const old = generations.slice(0, -1);
    expect(await waitUntil(() => old.every((p) => !isAlive(p)), 10_000), 'old ones exit').toBe(
      true,
    );
  });

  it('SIGTERM under load: in-flight requests complete, exit 0, PID_FILE removed', async () => {
    const pidFile = `${mkdtempSync('/tmp/gr-ex-')}/app.pid`;
    const port = await freePort();
    const endpoint = { host: '127.0.0.1', port };
    const f = await startExample(example, { PORT: String(port), PID_FILE: pidFile }, endpoint);
    const pid = f.first.pid as number;
    expect(await waitUntil(() => existsSync(pidFile), 2000)).toBe(true);
    const load = new HttpLoad({ port, connections: 20, keepAlive: true });
    const slow = Array.from({ length: 5 }, () => get(endpoint, '/slow?ms=700'));
    await sleep(150);
    process.kill(pid, 'SIGTERM');
    expect(await Promise.all(slow)).toEqual(
      Array.from({ length: 5 }, () => ({ status: 200, body: `slept 700 ms in pid=${pid}\n` })),
    );
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
    const stats = await load.stop();
    // Once the listener is closed new connections are refused (nothing replaces a shutdown);
    // what was already sent on open connections was answered, never reset or 5xx.
    expect(stats.failures.reset + stats.failures['5xx'] + stats.failures.other).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
  });

  it('CONFIG_FILE: a broken config is refused and the old generation keeps serving; a fixed one takes over', async () => {
    const dir = mkdtempSync('/tmp/gr-ex-');
    const config = `${dir}/config.json`;
    const pidFile = `${dir}/app.pid`;
    writeFileSync(config, JSON.stringify({ greeting: 'hello one' }));
    const port = await freePort();
    const endpoint = { host: '127.0.0.1', port };
    const f = await startExample(
      example,
      { PORT: String(port), CONFIG_FILE: config, PID_FILE: pidFile },
      endpoint,
    );
    const first = f.first.pid as number;
    expect((await get(endpoint)).body).toBe(`hello one from pid=${first}\n`);

    writeFileSync(config, '{"greeting": ');
    const load = new HttpLoad({ port, connections: 5, keepAlive: true });
    expect(await restart(f, endpoint, first, false)).toBe(first);
    // The refused generation says why on the stderr it shares with the old one.
    const why = `CONFIG_FILE ${config} is not valid JSON`;
    expect(await waitUntil(() => f.stderr.join('\n').includes(why), 5000)).toBe(true);
    expect((await get(endpoint)).body).toBe(`hello one from pid=${first}\n`);
    expect(readFileSync(pidFile, 'utf8')).toBe(`${first}\n`);

    writeFileSync(config, JSON.stringify({ greeting: 'hello two' }));
    const next = await restart(f, endpoint, first);
    expect((await get(endpoint)).body).toBe(`hello two from pid=${next}\n`);
    const stats = await load.stop();
    expect(stats.failureSamples).toEqual([]);
  });

  it('SOCKET_PATH: serves on the Unix socket across a restart; /slow and /healthz keep the contract', async () => {
    const socketPath = `${mkdtempSync('/tmp/gr-ex-')}/web.sock`;
    const endpoint = { socketPath };
    const f = await startExample(example, { SOCKET_PATH: socketPath }, endpoint);
    expect((await get(endpoint, '/healthz')).status).toBe(200);
    expect((await get(endpoint, '/slow?ms=abc')).status).toBe(400);
    expect((await get(endpoint, '/slow?ms=60001')).status).toBe(400);
    const slow = get(endpoint, '/slow?ms=300');
    const next = await restart(f, endpoint, f.first.pid as number);
    expect(next).not.toBe(f.first.pid);
    expect(await slow).toEqual({ status: 200, body: `slept 300 ms in pid=${f.first.pid}\n` });
    expect(pidIn((await get(endpoint)).body)).toBe(next);
  });

  it('GRACEFUL_RESTART_TOKEN: 20 concurrent authenticated POST /graceful give one restart and 409 for the rest', async () => {
    const port = await freePort();
    const endpoint = { host: '127.0.0.1', port };
    const f = await startExample(
      example,
      { PORT: String(port), GRACEFUL_RESTART_TOKEN: TOKEN },
      endpoint,
    );
    const first = f.first.pid as number;
    const url = `http://127.0.0.1:${port}/graceful`;
    const bearer = { authorization: `Bearer ${TOKEN}` };
    // Answering comes a moment before ready (fastify's onListen): wait for "serving".
    const serving = await poll(async () => {
      const body = (await (await fetch(`${url}/status`, { headers: bearer })).json()) as {
        state: string;
      };
      return body.state === 'serving' ? true : undefined;
    }, 5000);
    expect(serving).toBe(true);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(url, { method: 'POST', headers: bearer }).then(
          async (r) => [r.status, await r.json()] as const,
        ),
      ),
    );
    const statuses = answers.map(([status]) => status).sort();
    expect(statuses).toEqual([202, ...Array.from({ length: 19 }, () => 409)]);
    expect(answers.find(([status]) => status === 202)?.[1]).toEqual({
      state: 'restarting',
      pid: first,
    });
    const next = await poll(async () => {
      const served = pidIn((await get(endpoint)).body);
      return served !== first ? served : undefined;
    }, 10_000);
    expect(next).toBeGreaterThan(0);
    f.pids.add(next as number);
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
    const status = await fetch(`${url}/status`, { headers: bearer });
    expect(await status.json()).toMatchObject({ state: 'serving', pid: next, lastRestart: null });
  });

  it('GRACEFUL_RESTART_TOKEN: 100 wrong tokens restart nothing and end in 429; a short token refuses to start', async () => {
    const port = await freePort();
    const endpoint = { host: '127.0.0.1', port };
    const f = await startExample(
      example,
      { PORT: String(port), GRACEFUL_RESTART_TOKEN: TOKEN },
      endpoint,
    );
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/graceful`, {
        method: 'POST',
        headers: { authorization: `Bearer wrong-${i}-${TOKEN.slice(6)}` },
      });
      statuses.push(r.status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => 401));
    expect(new Set(statuses.slice(10))).toEqual(new Set([429]));
    expect(await pidAt(endpoint)).toBe(f.first.pid);
    await f.kill();

    const short = launch(example, {
      PORT: String(await freePort()),
      GRACEFUL_RESTART_TOKEN: 'too-short-a-token',
    });
    const exit = await waitForExit(short.first);
    expect(exit.code).not.toBe(0);
    const said = short.stderr.join('\n') + short.stdout.join('\n');
    expect(said).toContain('ERR_GRACEFUL_INVALID_OPTION');
    expect(said).toContain('GRACEFUL_RESTART_TOKEN');
    expect(said).not.toContain('too-short-a-token');
  });
});
