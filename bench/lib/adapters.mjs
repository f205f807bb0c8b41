// Adapter overhead: each framework bare and with its graceful-restart adapter.
//
// - Solo rounds give requests/s and p99: one server at a time, interleaved A B / B A so that drift
//   hits both sides alike.
// - Paired rounds give the throughput ratio. On this kind of machine (shared virtual CPUs) the
//   speed of a core drifts by up to 25 % between runs of a few seconds, more than the overhead
//   measured. So both servers run at once, pinned to the same CPU, each under its own load from
//   this process on another CPU: while both are saturated, the scheduler gives each half the
//   CPU, and the ratio of their requests is the inverse ratio of their cost per request, drift
//   included on both sides. The servers' CPU use is reported to show they were saturated.
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import autocannon from 'autocannon';
import { freePort, waitForServing } from './probe.mjs';
import { cpuMsOf, endAll, start } from './procs.mjs';
import { percentiles } from './stats.mjs';

const SERVER = new URL('../servers/framework.mjs', import.meta.url).pathname;
const FRAMEWORKS = ['fastify', 'express', 'koa'];
const MODES = ['bare', 'graceful'];

async function launch(framework, mode, cpu) {
  const port = await freePort();
  const server = start([SERVER], { FRAMEWORK: framework, MODE: mode, PORT: String(port) }, { cpu });
  await waitForServing(port, () => true);
  return { port, pid: server.child.pid, url: `http://127.0.0.1:${port}/` };
}

async function solo(framework, mode, connections, seconds) {
  const server = await launch(framework, mode);
  try {
    await autocannon({ url: server.url, connections, duration: 1 }); // warm-up, discarded
    const result = await autocannon({ url: server.url, connections, duration: seconds });
    return {
      rps: result.requests.average,
      p99: result.latency.p99,
      errors: result.errors + result.non2xx,
    };
  } finally {
    await endAll([server.pid]);
  }
}

/** `modes` [A, B] at once on `cpu`: B's requests / A's, and the servers' CPU use. */
async function paired(framework, modes, connections, seconds, cpu, swap) {
  const order = swap ? [...modes].reverse() : modes;
  const servers = [];
  const load = (server, duration) =>
    autocannon({ url: server.url, connections: Math.ceil(connections / 2), duration });
  try {
    for (const mode of order) servers.push(await launch(framework, mode, cpu));
    await Promise.all(servers.map((server) => load(server, 1)));
    const cpuBefore = servers.map((server) => cpuMsOf(server.pid));
    const began = performance.now();
    const results = await Promise.all(servers.map((server) => load(server, seconds)));
    const wall = performance.now() - began;
    const used = servers.reduce((sum, server, i) => sum + cpuMsOf(server.pid) - cpuBefore[i], 0);
    const total = Object.fromEntries(order.map((mode, i) => [mode, results[i].requests.total]));
    return {
      ratio: total[modes[1]] / total[modes[0]],
      serverCpu: used / wall,
      errors: results.reduce((sum, r) => sum + r.errors + r.non2xx, 0),
    };
  } finally {
    await endAll(servers.map((server) => server.pid));
  }
}

/** Pins this process (its load generators) to `cpu`, or undoes it; false if taskset failed. */
function pinSelf(cpuList) {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const round3 = (x) => Math.round(x * 1000) / 1000;
/** The median, unrounded (percentiles() rounds to 0.1, too coarse for ratios). */
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function runAdapterOverhead({ connections, rounds = 4, seconds = 5, log }) {
  const cpuCount = cpus().length;
  const serverCpu = cpuCount - 1;
  const out = [];
  for (const framework of FRAMEWORKS) {
    const runs = { bare: [], graceful: [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? MODES : [...MODES].reverse();
      for (const mode of order) runs[mode].push(await solo(framework, mode, connections, seconds));
    }
    // An odd number of pairs, each order alike but one; express and koa also against an empty
    // middleware, the floor for anything mounted with app.use().
    const pairs = [];
    const floor = [];
    const pinned = cpuCount > 1 && pinSelf('0');
    try {
      for (let round = 0; round < rounds + 1; round++) {
        const swap = round % 2 === 1;
        pairs.push(await paired(framework, MODES, connections, seconds, serverCpu, swap));
        if (framework !== 'fastify')
          floor.push(
            await paired(framework, ['bare', 'noop'], connections, seconds, serverCpu, swap),
          );
      }
    } finally {
      if (pinned) pinSelf(`0-${cpuCount - 1}`);
    }
    const soloMedian = (mode, key) => percentiles(runs[mode].map((r) => r[key])).p50;
    const row = {
      framework,
      rounds,
      seconds,
      bare: { rps: soloMedian('bare', 'rps'), p99: soloMedian('bare', 'p99') },
      graceful: { rps: soloMedian('graceful', 'rps'), p99: soloMedian('graceful', 'p99') },
      errors:
        [...runs.bare, ...runs.graceful].reduce((sum, r) => sum + r.errors, 0) +
        [...pairs, ...floor].reduce((sum, p) => sum + p.errors, 0),
      runs,
      pairedRatios: pairs.map((p) => round3(p.ratio)),
      pairedServerCpu: round3(median(pairs.map((p) => p.serverCpu))),
      emptyMiddlewareRatio: floor.length ? round3(median(floor.map((p) => p.ratio))) : undefined,
      emptyMiddlewareRatios: floor.map((p) => round3(p.ratio)),
      pinned,
    };
    row.throughputRatio = round3(median(pairs.map((p) => p.ratio)));
    row.soloThroughputRatio = round3(row.graceful.rps / row.bare.rps);
    row.p99Ratio = round3(row.graceful.p99 / row.bare.p99);
    out.push(row);
    log(
      `adapter ${framework}: throughput x${row.throughputRatio} (paired, servers at ${row.pairedServerCpu} CPU; an empty middleware x${row.emptyMiddlewareRatio ?? 'n/a'}), solo ${row.bare.rps} -> ${row.graceful.rps} req/s, p99 ${row.bare.p99} -> ${row.graceful.p99} ms`,
    );
  }
  return out;
}
