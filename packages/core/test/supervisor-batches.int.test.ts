// `graceful-restart run --workers N --reload-batch K`: K workers replaced at a time, at most N+K
// running, and a failure in any batch undoing every batch. Release directories under a
// `current` symlink, as deploys do it; real processes, loopback only.
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { get } from './helpers/http.js';
import { HttpLoad, stopAllOk } from './helpers/load.js';
import { tempDir } from './helpers/process.js';
import {
  childrenOf,
  cli,
  everyWorkerAnswers,
  type Supervised,
  status,
  supervise,
} from './helpers/supervisor.js';

const RELEASE_APP = new URL('./fixtures/release-app.mjs', import.meta.url).pathname;

interface ReleaseConfig {
  failStarts?: number[];
  failHow?: 'start' | 'probation';
}

/**
 * `root/releases/1`, `2`, ...: each an `app.mjs` (fixtures/app answering `release-N from
 * pid=...`) and its config.json; `root/current` points at release 1.
 */
function releases(configs: ReleaseConfig[]) {
  const root = tempDir('gr-batches-');
  for (const [i, config] of configs.entries()) {
    const dir = `${root}/releases/${i + 1}`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/app.mjs`, `import '${RELEASE_APP}';\n`);
    writeFileSync(
      `${dir}/config.json`,
      JSON.stringify({ greeting: `release-${i + 1}`, ...config }),
    );
  }
  const current = `${root}/current`;
  symlinkSync(`${root}/releases/1`, current);
  return {
    root,
    current,
    swap(n: number) {
      symlinkSync(`${root}/releases/${n}`, `${root}/current.new`);
      renameSync(`${root}/current.new`, current);
    },
  };
}

/** The most worker processes alive at once while `during` runs, from /proc every 10 ms. */
async function peakWorkers<T>(s: Supervised, during: () => Promise<T>) {
  let peak = 0;
  const timer = setInterval(() => {
    const alive = childrenOf(s.supervisorPid).filter((c) => c.state !== 'Z').length;
    peak = Math.max(peak, alive);
  }, 10);
  try {
    return { value: await during(), peak: () => peak };
  } finally {
    clearInterval(timer);
  }
}

/** Answers on fresh connections: the greetings seen (each release says its own). */
async function greetings(s: Supervised, count = 20): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < count; i++)
    seen.add((await get(s.endpoint)).body.split(' from')[0] as string);
  return seen;
}

const supervised = (current: string, workers: number, batch: number) =>
  supervise('app.mjs', {
    args: [
      '--cwd',
      current,
      '--workers',
      String(workers),
      '--reload-batch',
      String(batch),
      '--probation',
      '1s',
    ],
  });

describe('graceful-restart run --reload-batch', () => {
  it('--workers 4 --reload-batch 2: two batches, at most 6 workers at once, 0 failed requests under keep-alive load, every slot on the new release', async () => {
    const { current, swap } = releases([{}, {}]);
    const s = await supervised(current, 4, 2);
    const before = (await status(s)).servingPids;
    const load = new HttpLoad({
      port: (s.endpoint as { port: number }).port,
      connections: 20,
      keepAlive: true,
    });
    swap(2);
    const { value: reloaded, peak } = await peakWorkers(s, () =>
      cli(['reload', '--control', s.control]),
    );
    const stats = await stopAllOk(load);
    expect(reloaded.code, reloaded.stderr).toBe(0);
    expect(stats.ok).toBeGreaterThan(0);
    // N+K, and more than N: the batches overlapped as they should.
    expect(peak()).toBeLessThanOrEqual(6);
    expect(peak()).toBeGreaterThan(4);
    const after = await status(s);
    expect(after.servingPids).toHaveLength(4);
    expect(after.servingPids.filter((pid) => before.includes(pid))).toEqual([]);
    for (const w of after.workers.filter((w) => w.role === 'serving')) {
      expect(w.release).toMatch(/\/releases\/2$/);
    }
    expect(await greetings(s)).toEqual(new Set(['release-2']));
    const said = s.f.stderr.join('\n');
    expect(said).toMatch(/reload: batch 1 of 2: starting 2 workers to replace pids/);
    expect(said).toMatch(/reload: batch 2 of 2: starting 2 workers/);
    expect(said).toMatch(/reload: every slot replaced in 2 batches after \d+ ms/);
    expect(after.lastReload).toMatchObject({ ok: true });
  });

  it.each(['start', 'probation'] as const)(
    'a batch after the first fails (%s): reload exits 1, the old worker serves on in its slot, the slot replaced before gets release 1 back; no request fails (a crash on probation: only its own connections, once, by a reset)',
    async (failHow) => {
      const { current, swap } = releases([{}, {}, { failStarts: [2], failHow }]);
      const s = await supervised(current, 2, 1);
      const before = await status(s);
      const load = new HttpLoad({
        port: (s.endpoint as { port: number }).port,
        connections: 10,
        keepAlive: true,
      });
      swap(3);
      const failed = await cli(['reload', '--control', s.control]);
      const stats = failHow === 'start' ? await stopAllOk(load) : await load.stop();
      expect(failed.code).toBe(1);
      expect(stats.ok).toBeGreaterThan(0);
      if (failHow === 'probation') {
        // Only connections the crashing worker held may fail, each once, by a reset (as any
        // crash does); every other connection moved on.
        const { reset, ...others } = stats.failures;
        expect(Object.values(others), stats.failureSamples.join('\n')).toEqual([0, 0, 0, 0]);
        expect(reset).toBeLessThanOrEqual(10);
      }
      const after = await status(s);
      expect(after.servingPids).toHaveLength(2);
      // Slot 1 was never replaced (start) or got its old worker back (probation).
      expect(after.servingPids[1]).toBe(before.servingPids[1]);
      // Slot 0 passed its batch on release 3, then got release 1 back in a new worker.
      expect(before.servingPids).not.toContain(after.servingPids[0]);
      for (const w of after.workers.filter((w) => w.role === 'serving')) {
        expect(w.release).toMatch(/\/releases\/1$/);
      }
      await everyWorkerAnswers(s.endpoint, after.servingPids);
      expect(await greetings(s)).toEqual(new Set(['release-1']));
      const said = s.f.stderr.join('\n');
      expect(said).toMatch(
        /rollback: starting the earlier release in slot\(s\) 0 \(.*\/releases\/1\)/,
      );
      expect(said).toMatch(/rollback: pid \d+ serves the earlier release again/);
      expect(after.lastReload).toMatchObject({ ok: false });
      // Only the two serving workers are left.
      await expect
        .poll(() => childrenOf(s.supervisorPid).filter((c) => c.state !== 'Z').length, {
          timeout: 10_000,
        })
        .toBe(2);
    },
  );

  it('code changed in place (one directory): the old workers of passed batches hold on, and serve again when a later batch fails', async () => {
    const dir = tempDir('gr-batches-inplace-');
    writeFileSync(`${dir}/app.mjs`, `import '${RELEASE_APP}';\n`);
    // Starts 1 and 2 are the first workers, 3 the first batch; the second batch's start fails.
    writeFileSync(
      `${dir}/config.json`,
      JSON.stringify({ greeting: 'here', failStarts: [4], failHow: 'start' }),
    );
    const s = await supervised(dir, 2, 1);
    const before = (await status(s)).servingPids;
    const failed = await cli(['reload', '--control', s.control]);
    expect(failed.code).toBe(1);
    expect((await status(s)).servingPids).toEqual(before);
    await everyWorkerAnswers(s.endpoint, before);
    expect(s.f.stderr.join('\n')).toMatch(/reload: pid \d+ holds on until every batch has passed/);
  });

  it('--reload-batch 0 is a usage error (exit 2) naming the flag', async () => {
    const bad = await cli([
      'run',
      '--workers',
      '2',
      '--reload-batch',
      '0',
      '--',
      process.execPath,
      'app.js',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--reload-batch 0: expected 1 or more');
  });
});
