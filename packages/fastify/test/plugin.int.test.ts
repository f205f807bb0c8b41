import { describe, expect, it } from 'vitest';
import { HttpLoad, stopAllOk } from '../../core/test/helpers/load.js';
import {
  Fixture,
  type FixtureEvent,
  isAlive,
  sleep,
  waitForExit,
  waitUntil,
} from '../../core/test/helpers/process.js';
import { RawHttpConnection, requestInFlight } from '../../core/test/helpers/raw-http.js';

const SERVER = new URL('./fixtures/server.mjs', import.meta.url).pathname;

type Listener = { name: string; origin: string; address: string; port: number };
const listenersOf = (ready: FixtureEvent) => ready['listeners'] as Listener[];
const portOf = (ready: FixtureEvent) => listenersOf(ready)[0]?.port as number;

const count = (f: Fixture, event: string, pid: number) =>
  f.events.filter((e) => e.event === event && e.pid === pid).length;

describe('fastify plugin across processes', () => {
  it('10 restarts under 50 busy keep-alive clients: 0 failed requests; preClose and onClose run once per generation', async () => {
    const f = new Fixture(SERVER);
    const first = await f.waitFor((e) => e.event === 'ready');
    const load = new HttpLoad({ port: portOf(first), connections: 50, keepAlive: true });
    await sleep(200);
    const generations = [first.pid];
    for (let i = 0; i < 10; i++) {
      const next = await f.restart(generations.at(-1) as number);
      expect(listenersOf(next).map((l) => l.origin)).toEqual(['inherited']);
      generations.push(next.pid);
      await sleep(150);
    }
    await sleep(200);
    const stats = await stopAllOk(load);
    expect(stats.pids.get(generations.at(-1) as number)).toBeGreaterThan(0);
    const old = generations.slice(0, -1);
    expect(await waitUntil(() => old.every((pid) => !isAlive(pid)), 10_000)).toBe(true);
    const last = generations.at(-1) as number;
    process.kill(last, 'SIGTERM');
    expect(await waitUntil(() => !isAlive(last), 10_000)).toBe(true);
    for (const pid of generations) {
      expect([count(f, 'preClose', pid), count(f, 'onClose', pid)]).toEqual([1, 1]);
    }
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
  });

  it('a slow request spanning a restart completes 200 from the old pid', async () => {
    const f = new Fixture(SERVER);
    const first = await f.waitFor((e) => e.event === 'ready');
    const slow = fetch(`http://127.0.0.1:${portOf(first)}/slow?ms=1000`).then(async (r) => [
      r.status,
      await r.text(),
    ]);
    await sleep(100);
    const next = await f.restart(first.pid);
    expect(await slow).toEqual([200, `pid=${first.pid} path=/slow\n`]);
    const after = await fetch(`http://127.0.0.1:${portOf(first)}/`);
    expect(await after.text()).toBe(`pid=${next.pid} path=/\n`);
  });

  it("under-pressure's status route: 200 on the old generation during a handover, 503 during a SIGTERM drain", async () => {
    const f = new Fixture(SERVER);
    const first = await f.waitFor((e) => e.event === 'ready');
    const port = portOf(first);
    // A connection to the first generation, and a slow request that keeps its drain going.
    const toFirst = await RawHttpConnection.open(port);
    expect((await toFirst.get('/status')).status).toBe(200);
    const slowFirst = fetch(`http://127.0.0.1:${port}/slow?ms=1500`);
    await sleep(100);
    const next = await f.restart(first.pid);
    const duringHandover = await toFirst.get('/status');
    expect(duringHandover.status).toBe(200);
    // Draining: the answer closes the connection, so the client's next request goes to the new pid.
    expect(duringHandover.headers['connection']).toBe('close');
    expect((await slowFirst).status).toBe(200);

    const toNext = await RawHttpConnection.open(port);
    expect((await toNext.get('/')).body).toBe(`pid=${next.pid} path=/\n`);
    const slowNext = (await requestInFlight(port, '/slow?ms=1500')).answer;
    process.kill(next.pid, 'SIGTERM');
    await sleep(100);
    const duringShutdown = await toNext.get('/status');
    expect(duringShutdown.status).toBe(503);
    expect((await slowNext).status).toBe(200);
    expect(await waitUntil(() => !isAlive(next.pid), 10_000)).toBe(true);
  });

  it("fastify's host 'localhost' binds 127.0.0.1 and ::1; both sockets are handed over and keep serving", async () => {
    const f = new Fixture(SERVER, { HOST: 'localhost', FIXTURE_LOCALHOST: 'both' });
    const first = await f.waitFor((e) => e.event === 'ready');
    expect(listenersOf(first).map((l) => [l.name, l.address.replace(/:\d+$/, '')])).toEqual([
      ['web', '127.0.0.1'],
      ['web-1', '[::1]'],
    ]);
    const port = portOf(first);
    const next = await f.restart(first.pid);
    expect(listenersOf(next).map((l) => [l.name, l.origin, l.port])).toEqual([
      ['web', 'inherited', port],
      ['web-1', 'inherited', port],
    ]);
    expect(await waitUntil(() => !isAlive(first.pid), 10_000)).toBe(true);
    for (const host of ['127.0.0.1', '[::1]']) {
      const body = await (await fetch(`http://${host}:${port}/`)).text();
      expect(body).toBe(`pid=${next.pid} path=/\n`);
    }
  });
});
