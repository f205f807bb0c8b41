// Each example under `graceful-restart run --workers 2`: two workers on one listener, reloaded
// as a set, a crashed worker replaced alone.
import { afterEach, describe, expect, it } from 'vitest';
import { HttpLoad, stopAllOk } from '../../../packages/core/test/helpers/load.js';
import {
  poll,
  sleep,
  waitForExit,
  waitUntil,
} from '../../../packages/core/test/helpers/process.js';
import { cli, EXAMPLES, endAll, loopsFor } from '../examples.js';
import {
  childrenOf,
  everyWorkerAnswers,
  nextServingSet,
  procStat,
  status,
  supervise,
} from '../supervised.js';

afterEach(endAll);

const TWO = ['--workers', '2'];
const sorted = (pids: number[]) => [...pids].sort((a, b) => a - b);

describe.each(EXAMPLES)('examples/%s under graceful-restart run --workers 2', (example) => {
  const reloads = loopsFor(example, 20, 8);
  it(`${reloads} reloads under keep-alive load: 0 failed requests, both new workers serve each time, one supervisor pid, every old worker reaped`, async () => {
    // A short probation keeps the `reload` command (which waits for it) quick.
    const s = await supervise(example, { args: [...TWO, '--probation', '500ms'] });
    const { port } = s.endpoint as { port: number };
    const load = new HttpLoad({ port, connections: 30, keepAlive: true });
    let set = (await status(s)).servingPids;
    expect(set).toHaveLength(2);
    await everyWorkerAnswers(s.endpoint, set);
    const all = [...set];
    for (let i = 0; i < reloads; i++) {
      const way = i % 3;
      if (way === 0) process.kill(s.supervisorPid, 'SIGHUP');
      // A worker's own SIGHUP reloads the whole set.
      if (way === 2) process.kill(set[i % 2] as number, 'SIGHUP');
      if (way === 1) {
        const reload = await cli(['reload', '--control', s.control]);
        expect(reload.code, reload.stderr).toBe(0);
        expect(reload.stdout).toMatch(
          new RegExp(`^reloaded: pids \\d+, \\d+ serve \\(replaced ${set.join(', ')}\\)`),
        );
      }
      set = await nextServingSet(s, set);
      await everyWorkerAnswers(s.endpoint, set);
      all.push(...set);
    }
    await sleep(300);
    const stats = await stopAllOk(load);
    expect(new Set(all).size).toBe(2 * (reloads + 1));
    // The keep-alive clients moved to the last set too.
    for (const pid of set) expect(stats.pids.get(pid)).toBeGreaterThan(0);
    const final = await status(s);
    expect(final.supervisorPid).toBe(s.supervisorPid);
    expect(final.reloads).toBe(reloads);
    expect(
      final.workers
        .filter((w) => w.role === 'serving')
        .map((w) => w.slot)
        .sort(),
    ).toEqual([0, 1]);
    expect(new Set(final.workers.map((w) => w.generation)).size).toBe(1);
    // Old workers exited and were reaped: only the serving set is left.
    const old = all.filter((pid) => !set.includes(pid));
    expect(await waitUntil(() => old.every((pid) => procStat(pid) === undefined), 5000)).toBe(true);
    expect(sorted(childrenOf(s.supervisorPid).map((c) => c.pid))).toEqual(sorted(set));
    const stop = await cli(['stop', '--control', s.control]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(await waitForExit(s.f.first)).toEqual({ code: 0, signal: null });
  });

  it('one worker SIGKILLed under load: the other serves on, only requests in flight in the killed one fail, a replacement joins', async () => {
    const s = await supervise(example, { args: TWO });
    const { port } = s.endpoint as { port: number };
    const set = (await status(s)).servingPids;
    const load = new HttpLoad({ port, connections: 20, keepAlive: true });
    await everyWorkerAnswers(s.endpoint, set);
    // Each worker reports what it carries: together, the 20 keep-alive connections.
    const reported = await poll(async () => {
      const workers = (await status(s)).workers;
      const total = workers.reduce((sum, w) => sum + (w.connections ?? 0), 0);
      return total >= 20 && workers.every((w) => (w.requests ?? 0) > 0) ? workers : undefined;
    }, 5000);
    expect(reported, 'status reports connections and requests per worker').toBeDefined();
    const [victim, survivor] = set as [number, number];
    const before = load.stats.pids.get(survivor) ?? 0;
    process.kill(victim, 'SIGKILL');
    const next = (await poll(async () => {
      const now = (await status(s)).servingPids;
      return now.length === 2 && !now.includes(victim) ? now : undefined;
    }, 10_000)) as number[];
    expect(next).toContain(survivor);
    await everyWorkerAnswers(s.endpoint, next);
    await sleep(300);
    const stats = await load.stop();
    // Only requests in flight inside the killed worker fail, by a reset: at most one per client
    // it held. Nothing is refused or left unanswered.
    expect(stats.failures.refused + stats.failures.timeout).toBe(0);
    expect(stats.failures['5xx'] + stats.failures.other).toBe(0);
    expect(stats.failures.reset).toBeLessThanOrEqual(20);
    expect(stats.pids.get(survivor) ?? 0).toBeGreaterThan(before);
    const log = s.f.stderr.join('\n');
    expect(log).toContain(
      `worker pid ${victim} died while serving (signal SIGKILL); pid ${survivor} serves on`,
    );
    const after = await status(s);
    expect(after.crashes).toBe(1);
    expect(after.reloads).toBe(0);
    expect(after.supervisorPid).toBe(s.supervisorPid);
    expect(after.state).toBe('serving');
  });
});
