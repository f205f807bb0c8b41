// The demo behind `pnpm demo`: examples/fastify (or the example named: `node examples/demo.mjs
// hono`; http, fastify, express, koa, nestjs, hono) under keep-alive load for about 10 s while it is
// restarted 5 times, first with graceful-restart (SIGHUP), then the naive way (stop it, start
// it again), and a report of both side by side. Loopback only; every process it starts is
// stopped by its pid; it ends by itself in well under a minute.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const EXAMPLE = process.argv[2] ?? 'fastify';
const ENTRY = entryOf(EXAMPLE);
const CLIENTS = 20;
const DURATION_MS = 10_000;
const RESTART_AT_MS = [1500, 3000, 4500, 6000, 7500];
const tty = process.stdout.isTTY;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The example's entry file, from its start script (`node <entry>`). */
function entryOf(example) {
  let start;
  try {
    start = JSON.parse(readFileSync(new URL(`./${example}/package.json`, import.meta.url), 'utf8'))
      .scripts.start;
  } catch {
    console.error(
      `No example "${example}": choose one of http, fastify, express, koa, nestjs, hono.`,
    );
    process.exit(2);
  }
  return fileURLToPath(new URL(`./${example}/${start.replace(/^node /, '')}`, import.meta.url));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function classify(error) {
  if (error.code === 'ECONNREFUSED') return 'refused';
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE' || error.message === 'socket hang up')
    return 'reset';
  if (error.message === 'timeout') return 'timeout';
  return 'other';
}

/** One GET; resolves with { pid, ms } or { failure }. */
function request(port, agent) {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => {
        if (res.statusCode >= 500) return resolve({ failure: '5xx' });
        resolve({ pid: Number(/pid=(\d+)/.exec(body)?.[1]), ms: performance.now() - started });
      });
      res.on('error', (error) => resolve({ failure: classify(error) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ failure: classify(error) }));
  });
}

function startServer(port) {
  const child = spawn(process.execPath, [ENTRY], {
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

async function waitForPid(port, accept, limitMs = 15_000) {
  const agent = new http.Agent({ keepAlive: false });
  const end = performance.now() + limitMs;
  while (performance.now() < end) {
    const answer = await request(port, agent);
    if (answer.pid && accept(answer.pid)) return answer.pid;
    await sleep(5);
  }
  throw new Error('the example did not answer in time');
}

/** Whether `pid` still runs. A zombie has exited: where PID 1 does not reap, old generations stay zombies. */
function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function run(strategy, { durationMs = DURATION_MS, restartAt = RESTART_AT_MS } = {}) {
  const port = await freePort();
  const started = new Set();
  const first = startServer(port);
  started.add(first.pid);
  let pid = await waitForPid(port, () => true);
  const stats = {
    strategy,
    requests: 0,
    failures: { refused: 0, reset: 0, timeout: 0, '5xx': 0, other: 0 },
    latencies: [],
    restarts: [],
  };
  let running = true;
  const clients = Array.from({ length: CLIENTS }, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1, timeout: 5000 });
    while (running) {
      const answer = await request(port, agent);
      stats.requests++;
      if (answer.failure) {
        stats.failures[answer.failure]++;
        await sleep(10); // a refused client retries at once otherwise
      } else stats.latencies.push(answer.ms);
    }
    agent.destroy();
  });
  if (!tty && strategy !== 'warm-up') console.log(`running ${strategy} ...`);
  const t0 = performance.now();
  const progress = setInterval(() => {
    const failed = Object.values(stats.failures).reduce((a, b) => a + b, 0);
    const line = `${strategy.padEnd(16)} ${((performance.now() - t0) / 1000).toFixed(1).padStart(4)} s  requests ${String(stats.requests).padStart(6)}  failed ${String(failed).padStart(5)}  restarts ${stats.restarts.length}/5  serving pid ${pid}`;
    if (tty && strategy !== 'warm-up') process.stdout.write(`\r${line}`);
  }, 200);

  for (const at of restartAt) {
    await sleep(Math.max(0, at - (performance.now() - t0)));
    const old = pid;
    const signalled = performance.now();
    if (strategy === 'graceful-restart') {
      process.kill(old, 'SIGHUP');
    } else {
      // The usual restart: stop the process, then start it again once it is gone.
      process.kill(old, 'SIGTERM');
      while (alive(old)) await sleep(5);
      started.add(startServer(port).pid);
    }
    pid = await waitForPid(port, (p) => p !== old);
    started.add(pid);
    stats.restarts.push({ pid, ms: performance.now() - signalled });
  }
  await sleep(Math.max(0, durationMs - (performance.now() - t0)));
  running = false;
  await Promise.all(clients);
  clearInterval(progress);
  if (tty && strategy !== 'warm-up') process.stdout.write('\n');
  for (const p of started) if (alive(p)) process.kill(p, 'SIGTERM');
  const end = performance.now() + 10_000;
  while ([...started].some(alive) && performance.now() < end) await sleep(20);
  for (const p of started) if (alive(p)) process.kill(p, 'SIGKILL');
  return stats;
}

function percentile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0;
}

function report(runs) {
  const rows = [
    ['', ...runs.map((r) => r.strategy)],
    ['requests', ...runs.map((r) => String(r.requests))],
    ...['refused', 'reset', 'timeout', '5xx', 'other'].map((kind) => [
      `failed: ${kind}`,
      ...runs.map((r) => String(r.failures[kind])),
    ]),
    ...['p50', 'p99'].map((name, i) => [
      `latency ${name}`,
      ...runs.map((r) => {
        const sorted = [...r.latencies].sort((a, b) => a - b);
        return `${percentile(sorted, i === 0 ? 0.5 : 0.99).toFixed(1)} ms`;
      }),
    ]),
    ...[0, 1, 2, 3, 4].map((i) => [
      `restart ${i + 1}`,
      ...runs.map((r) => {
        const restart = r.restarts[i];
        return restart ? `pid ${restart.pid} in ${restart.ms.toFixed(0)} ms` : '-';
      }),
    ]),
  ];
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => row[col].length)));
  console.log('');
  for (const row of rows) console.log(row.map((cell, col) => cell.padEnd(widths[col])).join('   '));
  console.log('');
  console.log(
    `${CLIENTS} keep-alive clients, ${DURATION_MS / 1000} s each run, node ${process.version}. ` +
      'A restart is timed from the signal to the first answer from the new pid.',
  );
}

console.log(
  `examples/${EXAMPLE}, ${CLIENTS} keep-alive clients for ${DURATION_MS / 1000} s, 5 restarts: graceful-restart, then a naive stop-and-start.`,
);
// Both runs should meet a load generator that node has already optimised.
await run('warm-up', { durationMs: 2000, restartAt: [] });
const runs = [];
for (const strategy of ['graceful-restart', 'naive restart']) runs.push(await run(strategy));
report(runs);
// The demo doubles as a check: any failed request under graceful-restart is an error.
const graceful = runs[0];
if (Object.values(graceful.failures).some((n) => n > 0)) process.exitCode = 1;
