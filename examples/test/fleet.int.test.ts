// A fleet behind a real load balancer: three instances of an example on three loopback
// addresses, HAProxy in front with active readiness checks (500 ms, fall 2, rise 2) and no
// retries, keep-alive load through it. Rolled the way orchestrators replace instances (SIGTERM,
// a fresh one on the same address once it exited) and in place (SIGHUP).
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get, pidIn } from '../../packages/core/test/helpers/http.js';
import { type LoadStats, stopAllOk } from '../../packages/core/test/helpers/load.js';
import { poll, sleep, waitForExit } from '../../packages/core/test/helpers/process.js';
import { endAll, launch } from './examples.js';
import { Haproxy, FLEET_HOSTS as HOSTS, hasHaproxy } from './haproxy.js';
import { examplesFrom } from './test-selection.js';

/** http and fastify, as far as the run's example selection (GR_EXAMPLES) has them. */
const FLEET_EXAMPLES = examplesFrom(process.env['GR_EXAMPLES']).filter(
  (example) => example === 'http' || example === 'fastify',
);

let haproxy: Haproxy | undefined;
afterEach(async () => {
  await haproxy?.stop();
  haproxy = undefined;
  await endAll();
});

// Skipped without haproxy, except under CI (which installs it): there the test fails instead.
describe.skipIf(!hasHaproxy && !process.env['CI']).each(FLEET_EXAMPLES)(
  'examples/%s, a fleet of 3 behind HAProxy',
  (example) => {
    /** Starts one instance on `host`:`port`; resolves once it answers as ready. */
    async function startInstance(host: string, port: number, env: Record<string, string>) {
      const f = launch(example, { HOST: host, PORT: String(port), ...env });
      const ready = await poll(async () => {
        const answer = await get({ host, port }, '/readyz');
        return answer.status === 200 && JSON.parse(answer.body).pid === f.first.pid
          ? true
          : undefined;
      }, 10_000);
      expect(ready, `${example} on ${host}:${port} is ready`).toBe(true);
      return f;
    }

    async function startFleet(env: Record<string, string>) {
      const port = await freePort(HOSTS[0]);
      const instances = [];
      for (const host of HOSTS) instances.push(await startInstance(host, port, env));
      const fleet = await Haproxy.inFrontOfFleet(port);
      haproxy = fleet.haproxy;
      return { port, instances, load: fleet.load };
    }

    /**
     * Replaces each instance in turn as an orchestrator does: SIGTERM, wait for its exit, start a
     * fresh one on its address, wait until the balancer sends it traffic again. Resolves with the
     * SIGTERM-to-exit times.
     */
    async function rollByReplacement(env: Record<string, string>) {
      const fleet = await startFleet(env);
      await sleep(500);
      const stopTimes: number[] = [];
      const retired = [...fleet.instances];
      for (const [i, host] of HOSTS.entries()) {
        const old = fleet.instances[i];
        const signalled = performance.now();
        old?.first.kill('SIGTERM');
        expect(await waitForExit(old?.first as never, 20_000)).toEqual({ code: 0, signal: null });
        stopTimes.push(Math.round(performance.now() - signalled));
        fleet.instances[i] = await startInstance(host, fleet.port, env);
        await haproxy?.whenUp(`${host}:${fleet.port}`);
        await sleep(300);
      }
      return { ...fleet, stopTimes, retired };
    }

    const said = (f: { stdout: string[]; stderr: string[] }, text: string) =>
      [...f.stdout, ...f.stderr].some((line) => line.includes(text));

    it('a rolling replacement with the lame duck on: 0 failed requests, each lame duck ended once the balancer had moved off', async () => {
      const { instances, load, stopTimes, retired } = await rollByReplacement({
        GRACEFUL_RESTART_LAME_DUCK_MS: '8000',
      });
      const stats = await stopAllOk(load);
      expect(stats.requests).toBeGreaterThan(500);
      // Every new instance served through the balancer.
      for (const f of instances) expect(stats.pids.has(f.first.pid as number)).toBe(true);
      // The readiness checks told the balancer; no other request came: each ended early.
      for (const f of retired) {
        const movedOff = async () =>
          said(f, '(the load balancer has moved off); draining') || undefined;
        expect(await poll(movedOff, 5000)).toBe(true);
      }
      console.info(
        `${example} replacement, lame duck on: ${stats.requests} requests, 0 failed; SIGTERM to exit ${stopTimes.join(', ')} ms`,
      );
    });

    it('the same replacement with the lame duck off fails requests: the balancer sends to a closed port until its checks fail', async () => {
      const { load } = await rollByReplacement({ GRACEFUL_RESTART_LAME_DUCK_MS: '0' });
      const stats: LoadStats = await load.stop();
      const failed = stats.requests - stats.ok;
      expect(failed).toBeGreaterThan(0);
      expect(stats.failures['5xx']).toBeGreaterThan(0);
      console.info(`${example} replacement, lame duck off: ${failed} failed of ${stats.requests}`);
    });

    it('a rolling in-place reload (SIGHUP on each): 0 failed requests, a new pid on every address, readiness 200 throughout', async () => {
      const { port, instances, load } = await startFleet({ GRACEFUL_RESTART_LAME_DUCK_MS: '8000' });
      await sleep(500);
      for (const [i, host] of HOSTS.entries()) {
        const old = pidIn((await get({ host, port })).body);
        process.kill(old, 'SIGHUP');
        const next = await poll(async () => {
          const pid = pidIn((await get({ host, port })).body);
          return pid && pid !== old ? pid : undefined;
        }, 10_000);
        expect(next, `a new pid on ${host}`).toBeTruthy();
        instances[i]?.pids.add(next as number);
        await sleep(1_500);
      }
      const stats = await stopAllOk(load);
      expect(stats.requests).toBeGreaterThan(500);
      // No readiness check failed: HAProxy never marked a server down.
      const statuses = await haproxy?.statuses();
      expect([...(statuses?.values() ?? [])]).toEqual(['UP', 'UP', 'UP']);
    });
  },
);
