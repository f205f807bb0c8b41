// Restarts at scale (issue: restart window and scale), separate from `pnpm bench`:
//   - 100, 1,000 and 5,000 active keep-alive clients (a request a second each), and 10,000
//     idle ones beside 50 active,
//     across 3 restarts of the graceful app (direct mode): signal -> a new pid answers, the old
//     generation's exit after that, peak RSS of both, failed requests, and the handshakes the
//     kernel dropped because a listen queue overflowed (nstat's TcpExtListenOverflows and
//     TcpExtListenDrops, machine-wide, read before and after);
//   - the handover overhead over a cold start with 1, 10 and 50 listeners, while 5,000 other
//     connections are open on the machine (the successor no longer reads /proc/net per listener).
// Dropped handshakes are counted from the end of each warm-up. Loopback only; every run stops
// by itself. Writes bench/results/scale-node<major>.json, which
// bench/report.mjs renders.
//
//   node bench/scale.mjs            (every row, and the overhead)
//   node bench/scale.mjs --idle     (only 10,000 idle clients beside 50 and 5,000 active)
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { runOverhead } from './lib/overhead.mjs';
import { freePort } from './lib/probe.mjs';
import { rssOf } from './lib/procs.mjs';
import { summarize } from './lib/stats.mjs';
import { STRATEGIES } from './lib/strategies.mjs';
import { restartSeenByProbe, restartsUnderLoad } from './lib/timeline.mjs';

const RESTARTS = 3;
const INTERVAL_MS = 4000;
const WARMUP_MS = 3000;
/**
 * Each active client sends a request a second: the table measures restarts at N connections,
 * not a 2-core machine saturated by N closed-loop clients (5,000 of those queued every request
 * for seconds before any restart).
 */
const RATE_PER_CLIENT = 1;
const graceful = STRATEGIES.find((s) => s.name === 'graceful');

/** Machine-wide dropped handshakes so far: listen queue overflows and drops (nstat, absolute). */
function droppedHandshakes() {
  const out = spawnSync('nstat', ['-asz', 'TcpExtListenOverflows', 'TcpExtListenDrops'], {
    encoding: 'utf8',
  });
  if (out.status !== 0) return undefined;
  const value = (name) => Number(new RegExp(`${name}\\s+(\\d+)`).exec(out.stdout)?.[1] ?? 0);
  return { overflows: value('TcpExtListenOverflows'), drops: value('TcpExtListenDrops') };
}

/**
 * `count` connections to `port`, opened 500 at a time; each resolves `settled` once `ready`
 * (given the socket and a callback) says so. Resolves with a close() for all of them.
 */
async function openConnections(port, count, ready) {
  const sockets = [];
  for (let i = 0; i < count; i += 500) {
    await Promise.all(
      Array.from(
        { length: Math.min(500, count - i) },
        () =>
          new Promise((settled) => {
            const socket = net.connect({ port, host: '127.0.0.1' });
            socket.on('error', () => settled());
            socket.setTimeout(10_000, () => settled());
            ready(socket, settled);
            sockets.push(socket);
          }),
      ),
    );
  }
  return {
    close: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/**
 * `count` keep-alive clients that each send one request, read its answer, then stay idle. One
 * whose connection the server closes (a drain's idle grace) connects again after a random wait
 * of up to a second and sends its one request, as a pool refills: every restart meets them.
 */
function idleConnections(port, count) {
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  let stopped = false;
  const later = new Set();
  const converse = (socket, settled) => {
    socket.once('connect', () => socket.write(request));
    socket.once('data', () => {
      socket.setTimeout(0);
      settled();
    });
    socket.once('close', () => {
      if (stopped) return;
      const timer = setTimeout(() => {
        later.delete(timer);
        if (stopped) return;
        const next = net.connect({ port, host: '127.0.0.1' });
        next.on('error', () => undefined);
        converse(next, () => undefined);
        reopened.add(next);
      }, Math.random() * 1000);
      later.add(timer);
    });
  };
  const reopened = new Set();
  return openConnections(port, count, converse).then((open) => ({
    close: () => {
      stopped = true;
      for (const timer of later) clearTimeout(timer);
      open.close();
      for (const socket of reopened) socket.destroy();
    },
  }));
}

async function scenario({ active, idle = 0 }) {
  const port = await freePort();
  // Idle clients stay open across the run (node's own keepAliveTimeout is 5 s).
  const app = await graceful.launch(port, idle > 0 ? { KEEPALIVE_TIMEOUT_MS: '120000' } : {});
  const rss = [];
  const idlers = idle > 0 ? await idleConnections(port, idle) : undefined;
  // Counted from the end of the warm-up: the restarts' drops, not the load's first connects.
  let before;
  try {
    const { responses, errors, windows } = await restartsUnderLoad({
      port,
      keepAlive: true,
      connections: active,
      restarts: RESTARTS,
      intervalMs: INTERVAL_MS,
      warmupMs: WARMUP_MS,
      ratePerConnection: RATE_PER_CLIENT,
      sample: (t) => {
        rss.push([t, app.pids().reduce((sum, pid) => sum + rssOf(pid), 0)]);
        if (before === undefined && t >= WARMUP_MS - 500) before = droppedHandshakes() ?? null;
      },
      restartOnce: () => restartSeenByProbe(app, port),
    });
    const after = droppedHandshakes();
    const summary = summarize({ responses, errors, rss, windows, warmupMs: WARMUP_MS });
    return {
      active,
      idle,
      requests: summary.requests,
      failed: summary.failed,
      failures: summary.failures,
      handoverMs: summary.handoverMs,
      oldExitAfterHandoverMs: summary.oldExitAfterHandoverMs,
      rssMB: summary.rssMB,
      p99: { steady: summary.latency.steady.p99, windows: summary.latency.windows.p99 },
      droppedHandshakes:
        before && after
          ? after.overflows - before.overflows + (after.drops - before.drops)
          : undefined,
    };
  } finally {
    idlers?.close();
    await app.stop();
  }
}

/** `count` connections to a server of this process, open while the overhead is measured. */
async function otherConnections(count) {
  const server = net.createServer((socket) => socket.on('error', () => undefined));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const open = await openConnections(server.address().port, count, (socket, settled) =>
    socket.once('connect', () => {
      socket.setTimeout(0);
      settled();
    }),
  );
  return {
    close: () => {
      open.close();
      server.close();
    },
  };
}

const results = {
  node: process.version,
  date: new Date().toISOString().slice(0, 10),
  command: 'node bench/scale.mjs',
  settings: {
    restarts: RESTARTS,
    intervalMs: INTERVAL_MS,
    warmupMs: WARMUP_MS,
    ratePerClient: RATE_PER_CLIENT,
  },
  somaxconn: Number(
    spawnSync('cat', ['/proc/sys/net/core/somaxconn'], { encoding: 'utf8' }).stdout.trim(),
  ),
  scenarios: [],
  overhead: [],
};

// --idle: only the rows with 10,000 idle clients (the idle-close pacing), in a file of their own.
const idleOnly = process.argv.includes('--idle');
const rows = idleOnly
  ? [
      { active: 50, idle: 10_000 },
      { active: 5000, idle: 10_000 },
    ]
  : [{ active: 100 }, { active: 1000 }, { active: 5000 }, { active: 50, idle: 10_000 }];
if (idleOnly) results.command = 'node bench/scale.mjs --idle';
for (const s of rows) {
  process.stdout.write(`${s.active} active, ${s.idle ?? 0} idle ... `);
  const r = await scenario(s);
  results.scenarios.push(r);
  console.log(
    `failed ${r.failed}, dropped handshakes ${r.droppedHandshakes}, handover ${r.handoverMs.join('/')} ms, old exit ${r.oldExitAfterHandoverMs.join('/')} ms, RSS peak ${r.rssMB.peakOverlap} MB`,
  );
}

const others = idleOnly ? undefined : await otherConnections(5000);
try {
  for (const listeners of idleOnly ? [] : [1, 10, 50]) {
    process.stdout.write(`overhead, ${listeners} listener(s), 5000 other connections ... `);
    const o = await runOverhead({ k: 60, env: { LISTENERS: String(listeners) } });
    results.overhead.push({ listeners, otherConnections: 5000, ...o });
    console.log(
      `handover ${o.handover.p50} ms, cold ${o.cold.p50} ms: ${o.overheadMedianMs.toFixed(1)} ms`,
    );
  }
} finally {
  others?.close();
}

const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const name = idleOnly ? 'scale-idle' : 'scale';
const file = new URL(`${name}-node${process.versions.node.split('.')[0]}.json`, dir);
writeFileSync(file, `${JSON.stringify(results, null, 1)}\n`);
console.log(`wrote ${file.pathname}; run node bench/report.mjs to render RESULTS.md`);
