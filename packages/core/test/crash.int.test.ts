// A crash is a handover, not an outage: core's app with a route that throws asynchronously (or
// rejects), under keep-alive load with slow requests in flight, in direct mode and supervised.
// A release that crashes again and again is not started forever.
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort, get, pidIn, servedBy } from './helpers/http.js';
import { HttpLoad, type LoadStats } from './helpers/load.js';
import {
  Fixture,
  isAlive,
  nextPid,
  poll,
  sleep,
  tempDir,
  waitForExit,
  waitUntil,
} from './helpers/process.js';
import { requestInFlight } from './helpers/raw-http.js';
import { status, supervise } from './helpers/supervisor.js';

const APP = new URL('./fixtures/app/app.mjs', import.meta.url).pathname;
/** The probation off: a generation that served 1 s hands over on a crash. */
const QUICK = { GRACEFUL_RESTART_PROBATION_MS: '0' };

async function startApp(env: Record<string, string> = {}) {
  const port = await freePort();
  const endpoint = { host: '127.0.0.1', port };
  const f = new Fixture(APP, { PORT: String(port), ...QUICK, ...env });
  const pid = (await poll(
    async () => pidIn((await get(endpoint)).body) || undefined,
    10_000,
  )) as number;
  expect(pid).toBe(f.first.pid);
  return { f, port, endpoint, pid };
}

/** Asks for `path` and does not wait for the answer: the request that crashes gets none. */
function crashWith(port: number, path: string): void {
  void get({ host: '127.0.0.1', port }, path).catch(() => undefined);
}

const noFailures = (stats: LoadStats) =>
  expect({ samples: stats.failureSamples, ok: stats.ok }).toEqual({
    samples: [],
    ok: stats.requests,
  });

describe('a crash in direct mode', () => {
  it.each([
    ['an uncaught exception', '/boom', 'Uncaught exception: Error: boom in a timer'],
    ['an unhandled rejection', '/reject', 'Unhandled rejection: Error: rejected in a handler'],
  ])(
    '%s under keep-alive load: 0 failed requests besides the one that crashed, the slow ones answered, a new generation serves, the old one exits 1',
    async (_, path, printed) => {
      const { f, port, endpoint, pid } = await startApp();
      await sleep(1100);
      const load = new HttpLoad({ port, connections: 20, keepAlive: true, thinkMs: [1, 5] });
      await sleep(300);
      const slow = [
        await requestInFlight(port, '/slow?ms=1500'),
        await requestInFlight(port, '/slow?ms=1500'),
      ];
      crashWith(port, path);
      const next = await nextPid(endpoint, pid, f);
      for (const request of slow) {
        const answer = await request.answer;
        expect([answer.status, pidIn(answer.body)]).toEqual([200, pid]);
      }
      expect(await waitForExit(f.first, 10_000)).toEqual({ code: 1, signal: null });
      await sleep(300);
      const stats = await load.stop();
      noFailures(stats);
      expect(stats.pids.has(next)).toBe(true);
      // Logged with the handover (read from the pipe), and printed once, as node prints it.
      const handedOver = `crash handover: pid ${next} serves after`;
      const logged = async () => f.stderr.join('\n').includes(handedOver) || undefined;
      expect(await poll(logged, 5000)).toBe(true);
      expect(f.stderr.join('\n').split(printed).length - 1).toBe(1);
      expect(await servedBy(endpoint, next)).toBe(next);
    },
  );

  it('crashing again and again: 3 handovers, then the 4th crash within a minute closes the service instead of starting a 5th generation', async () => {
    const { f, port, endpoint, pid } = await startApp();
    let serving = pid;
    for (let i = 0; i < 3; i++) {
      await sleep(1100);
      crashWith(port, '/boom');
      serving = await nextPid(endpoint, serving, f);
    }
    await sleep(1100);
    crashWith(port, '/boom');
    expect(await waitUntil(() => !isAlive(serving), 10_000)).toBe(true);
    await expect(get(endpoint)).rejects.toThrow(/ECONNREFUSED/);
    const noMore = '4 crashes within 60 s: no more handovers';
    expect(await poll(async () => f.stderr.join('\n').includes(noMore) || undefined, 5000)).toBe(
      true,
    );
    const output = f.stderr.join('\n');
    expect(output.match(/crash handover: pid \d+ serves/g)).toHaveLength(3);
  });

  it('a release that crashes right after ready, during its probation: the old generation rolls back and serves; nothing is started again', async () => {
    const config = `${tempDir('gr-crash-')}/config.json`;
    writeFileSync(config, '{"greeting":"steady"}');
    const { f, endpoint, pid } = await startApp({
      CONFIG_FILE: config,
      GRACEFUL_RESTART_PROBATION_MS: '2000',
    });
    writeFileSync(config, '{"greeting":"crashy","crashAfterReadyMs":200}');
    process.kill(pid, 'SIGHUP');
    const crashy = await nextPid(endpoint, pid, f);
    expect(await waitUntil(() => !isAlive(crashy), 5000)).toBe(true);
    expect(await servedBy(endpoint, pid)).toBe(pid);
    await sleep(1000);
    // Only the old generation: no third one was started.
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) seen.add(pidIn((await get(endpoint)).body));
    expect([...seen]).toEqual([pid]);
    const why = 'no handover, the generation it replaced is on probation';
    expect(await poll(async () => f.stderr.join('\n').includes(why) || undefined, 5000)).toBe(true);
  });
});

describe('a crash under the supervisor', () => {
  it('the supervisor replaces the worker at once: 0 failed requests besides the one that crashed, the slow ones answered by the crashed worker, crashes counted', async () => {
    const s = await supervise(APP);
    const { port } = s.endpoint as { port: number };
    const worker = (await status(s)).servingPid;
    await sleep(300);
    const load = new HttpLoad({ port, connections: 20, keepAlive: true, thinkMs: [1, 5] });
    await sleep(300);
    const slow = [
      await requestInFlight(port, '/slow?ms=1500'),
      await requestInFlight(port, '/slow?ms=1500'),
    ];
    crashWith(port, '/boom');
    const next = await poll(async () => {
      const now = (await status(s)).servingPid;
      return now && now !== worker ? now : undefined;
    }, 10_000);
    expect(next).toBeTruthy();
    for (const request of slow) {
      const answer = await request.answer;
      expect([answer.status, pidIn(answer.body)]).toEqual([200, worker]);
    }
    expect(await waitUntil(() => !isAlive(worker), 10_000)).toBe(true);
    await sleep(300);
    noFailures(await load.stop());
    const after = await status(s);
    expect(after.crashes).toBe(1);
    expect(after.servingPid).toBe(next);
  });
});
