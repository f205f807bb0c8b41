// The benchmark harness (`pnpm bench`): restart strategies under the same load, the library's
// handover overhead, idle-only drain time, and each adapter against its bare framework.
// Loopback only; every run is bounded in requests' time and stops by itself.
//
//   node bench/run.mjs [--connections 50] [--keepalive both|on|off] [--restarts 5]
//                      [--interval 2500] [--only graceful,naive,...] [--skip-adapters]
//
// Writes bench/results/node<major>.json; bench/report.mjs turns the results into RESULTS.md and
// one chart per Node version.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { runAdapterOverhead } from './lib/adapters.mjs';
import { runOverhead } from './lib/overhead.mjs';
import { freePort, waitForServing } from './lib/probe.mjs';
import { endAll, exitOf, rssOf, sleep, start } from './lib/procs.mjs';
import { percentiles, summarize } from './lib/stats.mjs';
import { STRATEGIES } from './lib/strategies.mjs';
import { restartSeenByProbe, restartsUnderLoad } from './lib/timeline.mjs';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '50' },
    keepalive: { type: 'string', default: 'both' },
    restarts: { type: 'string', default: '5' },
    interval: { type: 'string', default: '2500' },
    only: { type: 'string' },
    'skip-adapters': { type: 'boolean', default: false },
  },
});
const connections = Number(values.connections);
const restarts = Number(values.restarts);
const intervalMs = Number(values.interval);
const warmupMs = 2000;
const keepAlives = values.keepalive === 'both' ? [true, false] : [values.keepalive === 'on'];
const only = values.only?.split(',');
const APP = new URL('./servers/app.mjs', import.meta.url).pathname;

/** One strategy under load with K restarts; everything measured on one timeline (ms from start). */
async function runStrategy(strategy, keepAlive) {
  const port = await freePort();
  const app = await strategy.launch(port);
  const rss = []; // [t, bytes]
  try {
    const { responses, errors, windows } = await restartsUnderLoad({
      port,
      keepAlive,
      connections,
      restarts,
      intervalMs,
      warmupMs,
      sample: (t) => rss.push([t, app.pids().reduce((sum, pid) => sum + rssOf(pid), 0)]),
      restartOnce: () => restartSeenByProbe(app, port),
    });
    return summarize({ responses, errors, rss, windows, warmupMs });
  } finally {
    await app.stop();
  }
}

/** An old generation with only idle keep-alive clients: exit time after the handover. */
async function runIdleExit(k = 5, idleClients = 20) {
  const http = await import('node:http');
  const port = await freePort();
  // Without the probation, which would hold the old generation 2 s whatever its drain took.
  const first = start([APP], { MODE: 'graceful', PORT: String(port), PROBATION_MS: '0' });
  const seen = [first.child.pid];
  const after = [];
  try {
    let pid = (await waitForServing(port, () => true))[0];
    for (let i = 0; i < k; i++) {
      // A bare keep-alive agent ignores the Keep-Alive hint: the drain has to close its sockets.
      const agent = new http.Agent({ keepAlive: true, maxSockets: idleClients });
      await Promise.all(
        Array.from(
          { length: idleClients },
          () =>
            new Promise((resolve, reject) =>
              http
                .get({ host: '127.0.0.1', port, agent }, (res) => res.resume().on('end', resolve))
                .on('error', reject),
            ),
        ),
      );
      process.kill(pid, 'SIGHUP');
      const [next, servedAt] = await waitForServing(port, (p) => p !== pid);
      const exitedAt = await exitOf(pid, 30_000, 1);
      after.push(exitedAt - servedAt);
      agent.destroy();
      pid = next;
      seen.push(pid);
      await sleep(200);
    }
  } finally {
    await endAll(seen);
  }
  return {
    k,
    idleClients,
    idleGraceMs: 1500,
    exitAfterHandover: percentiles(after),
    samples: after,
  };
}

const results = {
  node: process.version,
  machine: {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  },
  command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  settings: { connections, restarts, intervalMs, warmupMs, keepAlives },
  date: new Date().toISOString().slice(0, 10),
  strategies: [],
  skipped: [],
};

// The no-load figures first, before any load has run: placed after the pm2 strategy, the
// handovers measured 35-45 ms slower while the cold starts did not (cause not found).
if (!only || only.includes('graceful')) {
  process.stdout.write('handover overhead (no load) ... ');
  results.overhead = await runOverhead();
  console.log(
    `handover median ${results.overhead.handover.p50} ms, cold start median ${results.overhead.cold.p50} ms`,
  );
  process.stdout.write('idle-only old generation ... ');
  results.idleExit = await runIdleExit();
  console.log(`exits ${results.idleExit.exitAfterHandover.p50} ms (median) after the handover`);
}
for (const strategy of STRATEGIES) {
  if (only && !only.includes(strategy.name)) continue;
  if (strategy.skip) {
    console.log(`${strategy.name}: skipped: ${strategy.skip}`);
    results.skipped.push({ name: strategy.name, label: strategy.label, why: strategy.skip });
    continue;
  }
  for (const keepAlive of keepAlives) {
    process.stdout.write(`${strategy.name}, keep-alive ${keepAlive ? 'on' : 'off'} ... `);
    const summary = await runStrategy(strategy, keepAlive);
    results.strategies.push({ name: strategy.name, label: strategy.label, keepAlive, ...summary });
    const f = summary.failures;
    console.log(
      `${summary.requests} requests, failures ${JSON.stringify(f)}, p99 ${summary.latency.steady.p99} ms steady / ${summary.latency.windows.p99} ms in restarts, handover median ${summary.handoverMedianMs} ms`,
    );
  }
}
if (!values['skip-adapters']) {
  results.adapters = await runAdapterOverhead({ connections, log: console.log });
}

const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const file = new URL(`node${process.versions.node.split('.')[0]}.json`, dir);
writeFileSync(file, `${JSON.stringify(results, null, 1)}\n`);
console.log(
  `wrote ${file.pathname}; run node bench/report.mjs to render RESULTS.md and the charts`,
);
