// Several workers on one machine (`node bench/workers.mjs`, about 5 minutes with pm2): graceful-restart
// run --workers N against node:cluster with N workers and pm2's cluster mode with -i N.
// Loopback only; every run is bounded in time and stops by itself.
//
//   node bench/workers.mjs [--workers 2] [--connections 50] [--restarts 5] [--interval 2500]
//                          [--seconds 8] [--work 400000] [--only supervisor,cluster,pm2]
//
// 1. Reloads: the same app and load as bench/run.mjs (keep-alive on and off), `--restarts`
//    reloads of the whole set: failures, p99 steady and inside restart windows. A window runs
//    from the signal to the later of "a new pid answers" and "every old worker has exited".
// 2. Scaling: a CPU-bound route (`--work` rounds of arithmetic per request, a few ms) with 1 and
//    with N workers, no reloads: requests/s, and the ratio. The load is light on the client's
//    side (few, expensive requests), and its own CPU time is reported.
// 3. Spread: each worker's share of requests and connections against a fair share (1/N), with
//    keep-alive (connections made once) and without (a connection per request).
//
// Writes bench/results/workers-node<major>.json; bench/report.mjs renders it into RESULTS.md.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { keepAliveLoad, newConnectionLoad } from './lib/loads.mjs';
import { burstOfConnections, freePort, servingPid, waitForServing } from './lib/probe.mjs';
import { endAll, exitOf, sleep, start, treeOf } from './lib/procs.mjs';
import { summarize } from './lib/stats.mjs';
import { APP, APP_PM2, CLI, pm2In, pm2Missing } from './lib/strategies.mjs';
import { restartsUnderLoad } from './lib/timeline.mjs';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    restarts: { type: 'string', default: '5' },
    interval: { type: 'string', default: '4000' },
    seconds: { type: 'string', default: '8' },
    work: { type: 'string', default: '400000' },
    only: { type: 'string' },
  },
});
const N = Number(values.workers);
const connections = Number(values.connections);
const restarts = Number(values.restarts);
const intervalMs = Number(values.interval);
const seconds = Number(values.seconds);
const work = Number(values.work);
const only = values.only?.split(',');
const warmupMs = 2000;

/**
 * Each strategy: launch(port, workers, env) resolves once every worker serves, with restart()
 * (reload the whole set), workerPids() (the processes that answer requests) and stop().
 */
const STRATEGIES = [
  {
    name: 'supervisor',
    label: (n) => `graceful-restart run --workers ${n}`,
    async launch(port, workers, env) {
      const dir = mkdtempSync(join(tmpdir(), 'gr-bench-'));
      const root = start(
        [
          CLI,
          'run',
          '--workers',
          String(workers),
          '--listen',
          `web=127.0.0.1:${port}`,
          '--control',
          `${dir}/c.sock`,
          '--',
          process.execPath,
          APP,
        ],
        { MODE: 'graceful', PORT: String(port), ...env },
      ).child.pid;
      return hangupRoot(root, port, workers, () => rmSync(dir, { recursive: true, force: true }));
    },
  },
  {
    name: 'cluster',
    label: (n) => `node:cluster, ${n} workers (round-robin), pm2-reload style`,
    async launch(port, workers, env) {
      const root = start([APP], {
        MODE: 'cluster',
        WORKERS: String(workers),
        PORT: String(port),
        ...env,
      }).child.pid;
      return hangupRoot(root, port, workers);
    },
  },
  {
    name: 'pm2',
    label: (n) => `pm2 reload, cluster mode -i ${n}`,
    skip: pm2Missing,
    async launch(port, workers, env) {
      const home = mkdtempSync(join(tmpdir(), 'gr-bench-pm2-'));
      const pm2 = pm2In(home, { MODE: 'plain', PORT: String(port), ...env });
      await pm2(
        'start',
        APP_PM2,
        '-i',
        String(workers),
        '--name',
        'gr-bench',
        '--kill-timeout',
        '8000',
      );
      const daemon = Number(readFileSync(join(home, 'pm2.pid'), 'utf8'));
      const handle = {
        restart: () => pm2('reload', 'gr-bench'),
        workerPids: () => treeOf(daemon).filter((pid) => pid !== daemon),
        stop: async () => {
          await pm2('kill').catch(() => undefined);
          await endAll(treeOf(daemon));
          rmSync(home, { recursive: true, force: true });
        },
      };
      await untilWorkers(port, handle, workers);
      return handle;
    },
  },
];

/** A supervisor or a cluster primary: SIGHUP reloads; its children are the workers. */
async function hangupRoot(root, port, workers, cleanup = () => {}) {
  const handle = {
    restart: async () => process.kill(root, 'SIGHUP'),
    workerPids: () => treeOf(root).filter((pid) => pid !== root),
    stop: async () => {
      await endAll([root]);
      cleanup();
    },
  };
  await untilWorkers(port, handle, workers);
  return handle;
}

/** Resolves once `workers` worker processes run and each has answered a fresh connection. */
async function untilWorkers(port, handle, workers) {
  const end = performance.now() + 30_000;
  const seen = new Set();
  while (performance.now() < end) {
    const pid = await servingPid(port);
    if (pid) seen.add(pid);
    const live = handle.workerPids();
    if (live.length === workers && live.every((p) => seen.has(p))) return;
    await sleep(5);
  }
  throw new Error(`${workers} workers did not all answer within 30 s`);
}

/** Shares of a pid -> count map against a fair share of `n`: [0.97, 1.03]. */
function shares(counts, n) {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  return [...counts.values()]
    .map((c) => Math.round((c / (total / n)) * 100) / 100)
    .sort((a, b) => a - b);
}

/** Reloads of the whole set under load, windows measured per set. */
async function runReloads(strategy, keepAlive) {
  const port = await freePort();
  const app = await strategy.launch(port, N, {});
  let timeline;
  try {
    timeline = await restartsUnderLoad({
      port,
      keepAlive,
      connections,
      restarts,
      intervalMs,
      warmupMs,
      restartOnce: async () => {
        const old = app.workerPids();
        const trigger = app.restart();
        const [, servedAt] = await waitForServing(port, (pid) => !old.includes(pid));
        await trigger;
        const exits = await Promise.all(old.map((pid) => exitOf(pid)));
        return { servedAt, exitedAt: exits.includes(undefined) ? undefined : Math.max(...exits) };
      },
    });
  } finally {
    await app.stop();
  }
  const s = summarize({ ...timeline, rss: [], warmupMs });
  return {
    requests: s.requests,
    failed: s.failed,
    failures: s.failures,
    latency: s.latency,
    handoverMedianMs: s.handoverMedianMs,
    oldExitAfterHandoverMedianMs: s.oldExitAfterHandoverMedianMs,
  };
}

/** No reloads: requests/s on the CPU-bound route, and each worker's share. */
async function runSteady(strategy, workers, keepAlive) {
  const port = await freePort();
  const app = await strategy.launch(port, workers, { WORK_ITERATIONS: String(work) });
  const requests = new Map();
  let ok = 0;
  let failed = 0;
  const cpuBefore = process.cpuUsage();
  let began = 0;
  try {
    // One second of warm-up (JIT), then the measured seconds.
    const warm = keepAliveLoad({ port, connections, seconds: 1, onResponse() {}, onError() {} });
    await warm.done;
    began = performance.now();
    const load = (keepAlive ? keepAliveLoad : newConnectionLoad)({
      port,
      connections,
      seconds,
      onResponse: () => ok++,
      onError: () => failed++,
      onPid: (pid) => pid && requests.set(pid, (requests.get(pid) ?? 0) + 1),
    });
    await load.done;
  } finally {
    await app.stop();
  }
  const elapsedS = (performance.now() - began) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    workers,
    keepAlive,
    requestsPerSecond: Math.round(ok / elapsedS),
    failed,
    requestShares: shares(requests, workers),
    clientCpuPercent: Math.round(((cpu.user + cpu.system) / 1e4 / (elapsedS + 1)) * 10) / 10,
  };
}

/** Keep-alive connections: which worker each one landed on (made once, as clients do). */
async function runConnectionSpread(strategy, rounds = 5) {
  const port = await freePort();
  const app = await strategy.launch(port, N, {});
  const results = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const counts = new Map();
      // All at once, as a pool fills or a burst of clients reconnects.
      const pids = await burstOfConnections(port, connections);
      for (const pid of pids) counts.set(pid, (counts.get(pid) ?? 0) + 1);
      results.push(shares(counts, N));
      await sleep(200);
    }
  } finally {
    await app.stop();
  }
  return results;
}

const results = {
  node: process.version,
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown' },
  command: `node bench/workers.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  settings: { workers: N, connections, restarts, intervalMs, seconds, work },
  date: new Date().toISOString().slice(0, 10),
  strategies: [],
  skipped: [],
};

for (const strategy of STRATEGIES) {
  if (only && !only.includes(strategy.name)) continue;
  if (strategy.skip) {
    console.log(`${strategy.name}: skipped: ${strategy.skip}`);
    results.skipped.push({ name: strategy.name, why: strategy.skip });
    continue;
  }
  const row = { name: strategy.name, label: strategy.label(N), reloads: [], steady: [] };
  for (const keepAlive of [true, false]) {
    process.stdout.write(
      `${strategy.name}: ${restarts} reloads, keep-alive ${keepAlive ? 'on' : 'off'} ... `,
    );
    const r = await runReloads(strategy, keepAlive);
    row.reloads.push({ keepAlive, ...r });
    console.log(
      `${r.requests} requests, failures ${JSON.stringify(r.failures)}, p99 ${r.latency.steady.p99} ms steady / ${r.latency.windows.p99} ms in windows`,
    );
  }
  for (const workers of [1, N]) {
    for (const keepAlive of workers === 1 ? [true] : [true, false]) {
      process.stdout.write(
        `${strategy.name}: ${workers} worker(s), CPU-bound, keep-alive ${keepAlive ? 'on' : 'off'} ... `,
      );
      const s = await runSteady(strategy, workers, keepAlive);
      row.steady.push(s);
      console.log(
        `${s.requestsPerSecond} req/s, shares ${s.requestShares.join('/')}, client CPU ${s.clientCpuPercent}%`,
      );
    }
  }
  const one = row.steady.find((s) => s.workers === 1)?.requestsPerSecond;
  const many = row.steady.find((s) => s.workers === N && s.keepAlive)?.requestsPerSecond;
  row.scaling = one && many ? Math.round((many / one) * 100) / 100 : undefined;
  process.stdout.write(
    `${strategy.name}: keep-alive connections per worker, ${connections} at once ... `,
  );
  row.connectionShares = await runConnectionSpread(strategy);
  console.log(row.connectionShares.map((s) => s.join('/')).join('  '));
  results.strategies.push(row);
}

const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const file = new URL(`workers-node${process.versions.node.split('.')[0]}.json`, dir);
writeFileSync(file, `${JSON.stringify(results, null, 1)}\n`);
console.log(`wrote ${file.pathname}; run node bench/report.mjs to render RESULTS.md`);
