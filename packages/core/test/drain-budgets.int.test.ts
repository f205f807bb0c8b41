import { describe, expect, it } from 'vitest';
import { freePort, get, pidIn } from './helpers/http.js';
import {
  Fixture,
  type FixtureEvent,
  isAlive,
  poll,
  tempDir,
  waitForExit,
  waitUntil,
} from './helpers/process.js';
import { RawHttpConnection } from './helpers/raw-http.js';
import { cli, runArgs } from './helpers/supervisor.js';

const SERVER = new URL('./fixtures/server.mjs', import.meta.url).pathname;

const portOf = (ready: FixtureEvent) =>
  (ready['listeners'] as Array<{ port: number }>)[0]?.port as number;

/** A request that will run `ms` on the generation serving now; resolves with its pid too. */
async function longRequest(port: number, ms: number) {
  const conn = await RawHttpConnection.open(port);
  const pid = pidIn((await conn.get('/')).body);
  const answer = conn.get(`/slow?ms=${ms}`).then(
    (res) => ({ status: res.status, pid: pidIn(res.body) }),
    (error: Error) => ({ status: 0, error: error.message }),
  );
  return { pid, answer, conn };
}

describe('two drain budgets: after a handover, and final', () => {
  it('a request longer than the final deadline spans a restart and is answered; a stop signal during that drain cuts it at the final deadline', async () => {
    const f = new Fixture(SERVER, {
      FIXTURE_OPTIONS: JSON.stringify({
        probationMs: 0,
        drain: { deadlineMs: 1500, handoverDeadlineMs: 30_000 },
      }),
    });
    const first = await f.waitFor((e) => e.event === 'ready');
    const port = portOf(first);
    const long = await longRequest(port, 4000);
    expect(long.pid).toBe(first.pid);
    const second = await f.restart(first.pid);
    // 4 s, well past the final deadline of 1.5 s: answered by the generation it began on.
    expect(await long.answer).toEqual({ status: 200, pid: first.pid });
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });

    const cut = await longRequest(port, 25_000);
    expect(cut.pid).toBe(second.pid);
    const third = await f.restart(second.pid);
    process.kill(second.pid, 'SIGTERM');
    const report = await f.waitFor((e) => e.event === 'drained' && e.pid === second.pid, 10_000);
    expect(report['deadlineReached']).toBe(true);
    expect(report['cut']).toEqual([expect.objectContaining({ method: 'GET', path: '/slow' })]);
    expect((await cut.answer).status).toBe(0);
    expect(pidIn((await get({ host: '127.0.0.1', port }, '/')).body)).toBe(third.pid);
    process.kill(third.pid, 'SIGTERM');
    expect(await waitUntil(() => !isAlive(second.pid) && !isAlive(third.pid), 10_000)).toBe(true);
  });
});

describe('drain.maxOldGenerations', () => {
  it('back-to-back restarts, each leaving a long request: never more old generations than the cap; the oldest are cut; the serving one lists those draining', async () => {
    const cap = 2;
    const f = new Fixture(SERVER, {
      FIXTURE_OPTIONS: JSON.stringify({
        probationMs: 0,
        drain: { deadlineMs: 2000, handoverDeadlineMs: 40_000, maxOldGenerations: cap },
      }),
    });
    const first = await f.waitFor((e) => e.event === 'ready');
    const port = portOf(first);
    const generations = [first.pid];
    const longs = [];
    for (let i = 0; i < 4; i++) {
      const serving = generations.at(-1) as number;
      const long = await longRequest(port, 35_000);
      expect(long.pid).toBe(serving);
      longs.push(long);
      generations.push((await f.restart(serving)).pid);
      const old = generations.slice(0, -1);
      // The cut reaches the oldest along the chain; then at most `cap` old ones are left.
      expect(await waitUntil(() => old.filter(isAlive).length <= cap, 5000)).toBe(true);
    }
    const [g1, g2, g3, g4, g5] = generations as [number, number, number, number, number];
    for (const pid of [g1, g2]) {
      const report = await f.waitFor((e) => e.event === 'drained' && e.pid === pid, 5000);
      expect(report['deadlineReached']).toBe(true);
      expect(report['cut']).toEqual([expect.objectContaining({ method: 'GET', path: '/slow' })]);
    }
    expect((await longs[0]?.answer)?.status).toBe(0);
    expect((await longs[1]?.answer)?.status).toBe(0);
    expect(isAlive(g3) && isAlive(g4)).toBe(true);
    const listed = await get({ host: '127.0.0.1', port }, '/old-generations');
    expect(pidIn(listed.body)).toBe(g5);
    const draining = JSON.parse(/draining=(.*)/.exec(listed.body)?.[1] ?? '[]') as number[];
    expect(draining.sort()).toEqual([g3, g4].sort());
    for (const pid of [g3, g4, g5]) process.kill(pid, 'SIGTERM');
    expect(await waitUntil(() => ![g3, g4, g5].some(isAlive), 10_000)).toBe(true);
    for (const long of longs) long.conn.socket.destroy();
  });
});

describe('drain.maxOldGenerations under the supervisor', () => {
  it('back-to-back reloads, each leaving a long request: never more old workers than the cap; status lists those draining', async () => {
    const dir = tempDir('gr-budgets-');
    const port = await freePort();
    const control = `${dir}/control.sock`;
    const f = new Fixture(
      SERVER,
      {
        FIXTURE_OPTIONS: JSON.stringify({
          drain: { deadlineMs: 2000, handoverDeadlineMs: 40_000, maxOldGenerations: 2 },
        }),
        FIXTURE_LISTENERS: JSON.stringify([{ name: 'web', port, host: '127.0.0.1' }]),
        GRACEFUL_RESTART_PROBATION_MS: '0',
      },
      process.execPath,
      runArgs(port, control),
    );
    const readyPids = async (count: number) => {
      await f.waitFor(() => f.events.filter((e) => e.event === 'ready').length >= count);
      return f.events.filter((e) => e.event === 'ready').map((e) => e.pid);
    };
    const workers = [(await readyPids(1))[0] as number];
    const longs = [];
    for (let i = 0; i < 4; i++) {
      const long = await longRequest(port, 35_000);
      expect(long.pid).toBe(workers.at(-1));
      longs.push(long);
      const reload = await cli(['reload', '--control', control]);
      expect(reload.code, reload.stderr).toBe(0);
      workers.push((await readyPids(i + 2)).at(-1) as number);
      const old = workers.slice(0, -1);
      expect(await waitUntil(() => old.filter(isAlive).length <= 2, 5000)).toBe(true);
    }
    const [w1, w2, w3, w4] = workers as [number, number, number, number];
    for (const pid of [w1, w2]) {
      const report = await f.waitFor((e) => e.event === 'drained' && e.pid === pid, 5000);
      expect(report['deadlineReached']).toBe(true);
    }
    expect((await longs[0]?.answer)?.status).toBe(0);
    const listed = await poll(async () => {
      const { stdout } = await cli(['status', '--control', control]);
      const pids = (JSON.parse(stdout) as { draining: { pid: number }[] }).draining.map(
        (d) => d.pid,
      );
      return pids.length === 2 ? pids : undefined;
    }, 5000);
    expect(listed?.sort()).toEqual([w3, w4].sort());
    const stop = await cli(['stop', '--control', control]);
    expect(stop.code, stop.stderr).toBe(0);
    await f.kill();
    for (const long of longs) long.conn.socket.destroy();
  });
});
