// Batched reloads (`node bench/reload-batch.mjs`, about 3 minutes): graceful-restart run
// --workers N reloaded as a whole set and with --reload-batch K, under keep-alive load, with a
// release directory swapped under `current` at each reload; then in place (one directory), with
// and without the probation. Per
// setting: the most workers alive at once and their summed RSS (from /proc every 10 ms), how
// long each `reload` took, and the failed requests. Loopback only; bounded; stops by itself.
//
//   node bench/reload-batch.mjs [--workers 4] [--batches 4,2,1] [--reloads 3] [--connections 50]
//
// Writes bench/results/reload-batch-node<major>.json; bench/report.mjs renders it.
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { keepAliveLoad } from './lib/loads.mjs';
import { freePort, servingPid } from './lib/probe.mjs';
import { endAll, rssOf, sleep, start, treeOf } from './lib/procs.mjs';
import { APP, CLI } from './lib/strategies.mjs';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '4' },
    batches: { type: 'string', default: '4,2,1' },
    reloads: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
  },
});
const N = Number(values.workers);
const batches = values.batches.split(',').map(Number);
const reloads = Number(values.reloads);
const connections = Number(values.connections);

/** The parent pid of `pid`, from /proc (0 once it is gone). */
function parentOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

const control = (path, command) =>
  new Promise((resolve) => {
    const began = performance.now();
    execFile(process.execPath, [CLI, command, '--control', path], (error, stdout, stderr) =>
      resolve({ ok: !error, ms: Math.round(performance.now() - began), out: `${stdout}${stderr}` }),
    );
  });

/**
 * `dir/releases/1` and `2`, each the benchmark app (its node_modules linked), and `dir/current`
 * pointing at 1; swap() points it at the other, as a deploy does.
 */
function releases(dir) {
  for (const n of [1, 2]) {
    const release = `${dir}/releases/${n}`;
    mkdirSync(release, { recursive: true });
    copyFileSync(APP, `${release}/app.mjs`);
    symlinkSync(new URL('./node_modules', import.meta.url).pathname, `${release}/node_modules`);
  }
  symlinkSync(`${dir}/releases/1`, `${dir}/current`);
  let at = 1;
  return () => {
    at = 3 - at;
    symlinkSync(`${dir}/releases/${at}`, `${dir}/current.new`);
    renameSync(`${dir}/current.new`, `${dir}/current`);
  };
}

/** `inPlace`: the same directory at every reload (code changed in place); else a release swap. */
async function measure(batch, { inPlace = false, probation } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gr-batch-'));
  const swap = inPlace ? () => {} : releases(dir);
  const port = await freePort();
  const sock = `${dir}/c.sock`;
  const args = [CLI, 'run', '--workers', String(N), '--reload-batch', String(batch)];
  if (probation !== undefined) args.push('--probation', probation);
  const [cwd, entry] = inPlace ? [dir, APP] : [`${dir}/current`, 'app.mjs'];
  args.push('--cwd', cwd, '--listen', `web=127.0.0.1:${port}`, '--control', sock);
  args.push('--', process.execPath, entry);
  const supervisor = start(args, { MODE: 'graceful', PORT: String(port) }).child.pid;
  try {
    while (treeOf(supervisor).length < N + 1 || !(await servingPid(port))) await sleep(50);
    await sleep(1000);
    let ok = 0;
    const errors = {};
    const count = (kind) => {
      errors[kind] = (errors[kind] ?? 0) + 1;
    };
    const load = keepAliveLoad({
      port,
      connections,
      seconds: 120,
      onResponse: (_latency, status) => {
        if (status < 500) ok++;
        else count('5xx');
      },
      onError: count,
    });
    let peakWorkers = 0;
    let peakProcesses = 0;
    let peakRssMb = 0;
    const sampler = setInterval(() => {
      // The workers, and below them the short-lived helpers that duplicate a listening fd for
      // the rollback (they count in memory too).
      const tree = treeOf(supervisor).filter((pid) => pid !== supervisor);
      peakWorkers = Math.max(
        peakWorkers,
        tree.filter((pid) => parentOf(pid) === supervisor).length,
      );
      peakProcesses = Math.max(peakProcesses, tree.length);
      const rss = tree.reduce((sum, pid) => sum + rssOf(pid), 0) / 2 ** 20;
      peakRssMb = Math.max(peakRssMb, rss);
    }, 10);
    const steadyWorkers = treeOf(supervisor).length - 1;
    const durations = [];
    for (let i = 0; i < reloads; i++) {
      swap();
      const reloaded = await control(sock, 'reload');
      if (!reloaded.ok) throw new Error(`reload failed: ${reloaded.out}`);
      durations.push(reloaded.ms);
      await sleep(1500);
    }
    clearInterval(sampler);
    load.stop();
    await load.done;
    const failed = Object.values(errors).reduce((a, b) => a + b, 0);
    return {
      batch,
      deploy: inPlace ? 'in place' : 'release directories',
      probation: probation ?? 'default (2s)',
      steadyWorkers,
      peakWorkers,
      peakProcesses,
      peakRssMb: Math.round(peakRssMb),
      reloadMs: durations,
      ok,
      failed,
      errors,
    };
  } finally {
    await endAll([supervisor]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const settings = [
  ...batches.map((batch) => [batch, {}]),
  // In place the old code cannot be started again: with a probation the old workers hold on.
  [1, { inPlace: true }],
  [1, { inPlace: true, probation: '0' }],
];
const rows = [];
for (const [batch, how] of settings) {
  const row = await measure(batch, how);
  rows.push(row);
  console.log(
    `--workers ${N} --reload-batch ${batch}, ${row.deploy}, probation ${row.probation}: peak ${row.peakWorkers} workers (${row.peakProcesses} processes with helpers), ${row.peakRssMb} MiB; reloads ${row.reloadMs.join(', ')} ms; ${row.ok} ok, ${row.failed} failed`,
  );
}
const out = new URL('./results/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
const major = process.versions.node.split('.')[0];
writeFileSync(
  join(out, `reload-batch-node${major}.json`),
  `${JSON.stringify({ node: process.version, workers: N, connections, reloads, rows }, null, 2)}\n`,
);
