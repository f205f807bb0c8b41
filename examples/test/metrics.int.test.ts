// examples/http's GET /metrics (prom-client, examples/http/metrics.mjs): restarts, drains and
// failures, with totals that go on across generations.
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { get, pidIn } from '../../packages/core/test/helpers/http.js';
import { HttpLoad, stopAllOk } from '../../packages/core/test/helpers/load.js';
import { poll, tempDir } from '../../packages/core/test/helpers/process.js';
import { cli, endAll, restart, startOnFreePort } from './examples.js';
import { nextServing, supervise } from './supervised.js';

afterEach(endAll);

/** The value of one sample (`name{labels}`) in Prometheus exposition text, 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const OK = 'graceful_restarts_total{outcome="ok",code=""}';
const FAILED = 'graceful_restarts_total{outcome="failed",code="ERR_GRACEFUL_CHILD_EXITED"}';
const RESTART_COUNT = 'graceful_restart_duration_seconds_count';
const DRAIN_COUNT = 'graceful_drain_duration_seconds_count';
const FORCED = 'graceful_connections_forced_total';

describe('examples/http: restart metrics for Prometheus', () => {
  it('after 3 restarts and a failed one, under keep-alive load: the counters hold all of them, and never went down', async () => {
    const dir = tempDir('gr-metrics-');
    const config = `${dir}/config.json`;
    writeFileSync(config, JSON.stringify({ greeting: 'hello' }));
    const { f, port, endpoint } = await startOnFreePort('http', { CONFIG_FILE: config });
    const load = new HttpLoad({ port, connections: 10, keepAlive: true });
    const scrapes: string[] = [];
    const scrape = async () => {
      const { status, body } = await get(endpoint, '/metrics');
      expect(status).toBe(200);
      scrapes.push(body);
      return body;
    };
    /** Scrapes until `series` reaches `value` (the drain report comes after the probation). */
    const until = (series: string, value: number) =>
      poll(async () => (sample(await scrape(), series) >= value ? true : undefined), 10_000);

    let pid = f.first.pid as number;
    expect(sample(await scrape(), OK)).toBe(0);
    pid = await restart(f, endpoint, pid);
    expect(await until(DRAIN_COUNT, 1)).toBe(true);
    pid = await restart(f, endpoint, pid);
    expect(await until(DRAIN_COUNT, 2)).toBe(true);
    // A broken config: the restart fails, this generation serves on and counts the failure.
    writeFileSync(config, '{ not json');
    expect(await restart(f, endpoint, pid, false)).toBe(pid);
    expect(await until(FAILED, 1)).toBe(true);
    writeFileSync(config, JSON.stringify({ greeting: 'hello again' }));
    pid = await restart(f, endpoint, pid);
    expect(await until(DRAIN_COUNT, 3)).toBe(true);

    const last = await scrape();
    expect(sample(last, OK)).toBe(3);
    expect(sample(last, FAILED)).toBe(1);
    expect(sample(last, RESTART_COUNT)).toBe(3);
    expect(sample(last, 'graceful_restart_duration_seconds_sum')).toBeGreaterThan(0);
    expect(sample(last, DRAIN_COUNT)).toBe(3);
    expect(sample(last, FORCED)).toBe(0);
    // Counters only go up from scrape to scrape, across all four generations.
    for (const series of [OK, FAILED, RESTART_COUNT, DRAIN_COUNT]) {
      const values = scrapes.map((text) => sample(text, series));
      expect(values).toEqual([...values].sort((a, b) => a - b));
    }
    const stats = await stopAllOk(load);
    expect(stats.ok).toBeGreaterThan(0);
  });

  it('under graceful-restart run: 3 reloads, the totals travel worker to worker through the supervisor', async () => {
    const s = await supervise('http');
    const scrapes: string[] = [];
    const scrape = async () => {
      const { body } = await get(s.endpoint, '/metrics');
      scrapes.push(body);
      return body;
    };
    const load = new HttpLoad({
      port: (s.endpoint as { port: number }).port,
      connections: 10,
      keepAlive: true,
    });
    let pid = (await supervisedPid(s)) as number;
    for (let i = 1; i <= 3; i++) {
      const reload = await cli(['reload', '--control', s.control]);
      expect(reload.code, reload.stderr).toBe(0);
      pid = await nextServing(s, pid);
      expect(
        await poll(
          async () => (sample(await scrape(), DRAIN_COUNT) >= i ? true : undefined),
          10_000,
        ),
      ).toBe(true);
    }
    const last = await scrape();
    expect(sample(last, OK)).toBe(3);
    expect(sample(last, RESTART_COUNT)).toBe(3);
    expect(sample(last, DRAIN_COUNT)).toBe(3);
    for (const series of [OK, RESTART_COUNT, DRAIN_COUNT]) {
      const values = scrapes.map((text) => sample(text, series));
      expect(values).toEqual([...values].sort((a, b) => a - b));
    }
    await stopAllOk(load);
  });
});

/** The pid that answers now. */
async function supervisedPid(s: { endpoint: Parameters<typeof get>[0] }) {
  return pidIn((await get(s.endpoint)).body);
}
