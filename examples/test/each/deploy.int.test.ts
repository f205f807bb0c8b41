// Each example as it is deployed: restarts in a row (50 for http), behind a real nginx, and
// started by systemd-socket-activate.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get, pidAt } from '../../../packages/core/test/helpers/http.js';
import { HttpLoad } from '../../../packages/core/test/helpers/load.js';
import {
  Fixture,
  isAlive,
  liveChildren,
  openFds,
  sleep,
  socketsHeldTwice,
  waitUntil,
} from '../../../packages/core/test/helpers/process.js';
import { EXAMPLES, endAll, entryOf, loopsFor, restart, startOnFreePort } from '../examples.js';
import { hasNginx, Nginx } from '../nginx.js';

afterEach(endAll);

/** Resident set size of `pid` in kB, from /proc. */
function rssKb(pid: number): number {
  const line = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(line?.[1]);
}

// .ci/run installs nginx and systemd-socket-activate (Debian packages); elsewhere these tests
// are skipped when the tool is missing, and fail under CI so a missing tool cannot pass unseen.
const inCi = Boolean(process.env['CI']);
const hasSocketActivate = spawnSync('systemd-socket-activate', ['--version']).status === 0;

describe.each(EXAMPLES)('examples/%s deployed', (example) => {
  const restarts = loopsFor(example, 50, 10);
  it(`${restarts} restarts: fd count and RSS of the serving process stay flat, no old generation left`, async () => {
    // A short probation: each of the sequential restarts waits for the old generation's exit.
    const { f, endpoint } = await startOnFreePort(example, {
      LOG_LEVEL: 'warn',
      GRACEFUL_RESTART_PROBATION_MS: '200',
    });
    let pid = f.first.pid as number;
    const generations = [pid];
    const samples: Array<{ fds: number; rss: number }> = [];
    for (let i = 0; i < restarts; i++) {
      pid = await restart(f, endpoint, pid);
      generations.push(pid);
      // Measured once the previous generation is gone and this one has settled: it holds its
      // listener's rollback duplicate, taken after that exit, and the helper that passed it
      // has exited (a sample taken before that counts one fd less, or the helper's pipe).
      const previous = generations.at(-2) as number;
      expect(await waitUntil(() => !isAlive(previous), 5000)).toBe(true);
      const settled = () => socketsHeldTwice(pid) === 1 && liveChildren(pid).length === 0;
      expect(await waitUntil(settled, 5000), `pid ${pid} holds its duplicate`).toBe(true);
      samples.push({ fds: openFds(pid).length, rss: rssKb(pid) });
    }
    expect(new Set(generations).size).toBe(restarts + 1);
    expect(generations.slice(0, -1).filter(isAlive)).toEqual([]);
    // Each generation is a fresh process: the last looks like the first ones. A probe's
    // connection may still be open at a sample, so compare with the fewest fds seen early on.
    const early = Math.min(...samples.slice(0, 5).map((sample) => sample.fds));
    expect(await waitUntil(() => openFds(pid).length === early, 3000)).toBe(true);
    expect(samples.at(-1)?.rss).toBeLessThan((samples[0]?.rss ?? 0) * 1.3);
  });

  it.skipIf(!hasNginx && !inCi)(
    'behind nginx with upstream keepalive: 0 errors and 0 5xx across 10 restarts',
    async () => {
      const { f, port, endpoint } = await startOnFreePort(example, { LOG_LEVEL: 'warn' });
      const nginx = await Nginx.start(port);
      try {
        const load = new HttpLoad({ port: nginx.port, connections: 20, keepAlive: true });
        await sleep(200);
        let pid = f.first.pid as number;
        const generations = [pid];
        for (let i = 0; i < 10; i++) {
          pid = await restart(f, endpoint, pid);
          generations.push(pid);
          await sleep(150);
        }
        await sleep(300);
        const stats = await load.stop();
        expect(stats.failureSamples).toEqual([]);
        expect(stats.failures['5xx']).toBe(0);
        expect(stats.ok).toBe(stats.requests);
        // Through nginx too, the new generations answered.
        expect(stats.pids.get(pid)).toBeGreaterThan(0);
        expect(generations.filter((p) => stats.pids.has(p)).length).toBeGreaterThan(5);
      } finally {
        await nginx.stop();
      }
    },
  );

  it.skipIf(!hasSocketActivate && !inCi)(
    'started by systemd-socket-activate: serves, and restarts keep working',
    async () => {
      const port = await freePort();
      const endpoint = { host: '127.0.0.1', port };
      // systemd-socket-activate passes only the variables named with -E.
      const f = new Fixture(entryOf(example), {}, process.execPath, [
        'systemd-socket-activate',
        '-l',
        `127.0.0.1:${port}`,
        '--fdname=web',
        '-E',
        'LOG_LEVEL=warn',
        // A short probation: each restart below waits for the old generation's exit.
        '-E',
        'GRACEFUL_RESTART_PROBATION_MS=200',
      ]);
      expect(await waitUntil(() => f.stderr.some((l) => l.startsWith('Listening on')), 5000)).toBe(
        true,
      );
      // The first connection makes systemd-socket-activate exec the example in its own pid.
      expect(await pidAt(endpoint)).toBe(f.first.pid);
      let pid = f.first.pid as number;
      for (let i = 0; i < 3; i++) {
        const previous = pid;
        pid = await restart(f, endpoint, pid);
        expect(await waitUntil(() => !isAlive(previous), 5000)).toBe(true);
      }
      expect((await get(endpoint, '/healthz')).status).toBe(200);
      expect(await pidAt(endpoint)).toBe(pid);
    },
  );
});
