// Bursts of connections over several workers (`node bench/bursts.mjs`, about 2 minutes):
// `graceful-restart run --workers 2` against node:cluster's round-robin with 2 workers. Each
// burst opens 50 keep-alive connections at once (a client pool filling, clients reconnecting
// together) and counts where they landed: the busiest worker's share against a fair one (1.00
// is even; 2.00 is all on one worker). Cold bursts come after 1 s of quiet, warm ones 50 ms after
// the previous burst. Loopback only; bounded; stops by itself.
//
//   node bench/bursts.mjs [--bursts 30] [--connections 50]
//
// Writes bench/results/bursts-node<major>.json; bench/report.mjs renders it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { burstOfConnections, freePort, servingPid } from './lib/probe.mjs';
import { endAll, sleep, start, treeOf } from './lib/procs.mjs';
import { APP, CLI } from './lib/strategies.mjs';

const { values } = parseArgs({
  options: {
    bursts: { type: 'string', default: '30' },
    connections: { type: 'string', default: '50' },
  },
});
const bursts = Number(values.bursts);
const connections = Number(values.connections);
const N = 2;

const STRATEGIES = [
  {
    name: 'supervisor',
    label: `graceful-restart run --workers ${N}`,
    launch(port, dir) {
      const args = [CLI, 'run', '--workers', String(N), '--listen', `web=127.0.0.1:${port}`];
      args.push('--control', `${dir}/c.sock`, '--', process.execPath, APP);
      return start(args, { MODE: 'graceful', PORT: String(port) }).child.pid;
    },
  },
  {
    name: 'cluster',
    label: `node:cluster, ${N} workers (round-robin)`,
    launch: (port) =>
      start([APP], { MODE: 'cluster', WORKERS: String(N), PORT: String(port) }).child.pid,
  },
];

/** One burst: the busiest worker's share of `connections` opened at once, against a fair share. */
async function burst(port) {
  const counts = new Map();
  for (const pid of await burstOfConnections(port, connections)) {
    counts.set(pid, (counts.get(pid) ?? 0) + 1);
  }
  return Math.round((Math.max(...counts.values()) / (connections / N)) * 100) / 100;
}

const quantiles = (shares) => {
  const sorted = [...shares].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
  return { median: at(0.5), p90: at(0.9), max: sorted.at(-1) };
};

const rows = [];
for (const strategy of STRATEGIES) {
  const dir = mkdtempSync(join(tmpdir(), 'gr-bursts-'));
  const port = await freePort();
  const root = strategy.launch(port, dir);
  try {
    while (treeOf(root).length < N + 1 || !(await servingPid(port))) await sleep(50);
    await sleep(1000);
    const cold = [];
    const warm = [];
    for (let i = 0; i < bursts; i++) {
      await sleep(1000);
      cold.push(await burst(port));
      await sleep(50);
      warm.push(await burst(port));
    }
    const row = { name: strategy.name, label: strategy.label, cold, warm };
    rows.push(row);
    const say = (q) => `median ${q.median}, p90 ${q.p90}, max ${q.max}`;
    console.log(
      `${strategy.label}: busiest worker's share, cold ${say(quantiles(cold))}; warm ${say(quantiles(warm))}`,
    );
  } finally {
    await endAll([root]);
    rmSync(dir, { recursive: true, force: true });
  }
}
const out = new URL('./results/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
const major = process.versions.node.split('.')[0];
writeFileSync(
  join(out, `bursts-node${major}.json`),
  `${JSON.stringify({ node: process.version, workers: N, connections, bursts, rows }, null, 2)}\n`,
);
