// WebSockets across restarts: 2,000 `ws` clients that reconnect the moment their socket closes
// (the reconnect storm's worst case), 5 restarts of a node:http + ws server in direct mode, with
// the drain's paced closes (drain.upgradedPaceMs, default 5000) and with every socket closed at
// once (0, as before pacing). Per restart: the close codes, failed reconnects, and how the
// reconnects spread: the busiest 100 ms against the average 100 ms of the window. Loopback only;
// stops by itself. Writes bench/results/websockets-node<major>.json for bench/report.mjs.
//
//   node bench/websockets.mjs
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { WebSocket } from 'ws';

const CLIENTS = 2000;
const RESTARTS = 5;
const SERVER = new URL('./servers/websockets.mjs', import.meta.url).pathname;

function start(env) {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pids = new Set([child.pid]);
  let port;
  let onReady = () => undefined;
  let buffer = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buffer += chunk;
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const event = JSON.parse(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
      if (event.event === 'ready') {
        pids.add(event.pid);
        port = event.port;
        onReady(event.pid);
      }
    }
  });
  return {
    pids,
    port: () => port,
    ready: () => new Promise((resolve) => (onReady = resolve)),
  };
}

class Client {
  pid = 0;
  closes = [];
  failures = 0;
  stopped = false;
  constructor(port) {
    this.port = port;
  }
  connect() {
    return new Promise((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${this.port}/`);
      this.socket = socket;
      socket.once('message', (data) => {
        this.pid = Number(/pid=(\d+)/.exec(String(data))?.[1]);
        resolve();
      });
      socket.once('error', () => this.failures++);
      socket.once('close', (code) => {
        if (this.stopped) return resolve();
        this.closes.push({ code, pid: this.pid, at: performance.now() });
        setTimeout(() => void this.connect().then(resolve), code === 1006 ? 100 : 0);
      });
    });
  }
}

/** The most reconnects in one 100 ms bin, and that against the average bin of the window. */
function spread(times) {
  if (times.length < 2) return { peakPer100ms: times.length, peakToAverage: 1 };
  const first = Math.min(...times);
  const bins = new Map();
  for (const at of times) {
    const bin = Math.floor((at - first) / 100);
    bins.set(bin, (bins.get(bin) ?? 0) + 1);
  }
  const span = Math.max(...bins.keys()) + 1;
  const peak = Math.max(...bins.values());
  return { peakPer100ms: peak, peakToAverage: Number((peak / (times.length / span)).toFixed(2)) };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function run(upgradedPaceMs) {
  const server = start({ UPGRADED_PACE_MS: String(upgradedPaceMs) });
  let pid = await server.ready();
  const clients = Array.from({ length: CLIENTS }, () => new Client(server.port()));
  for (let i = 0; i < CLIENTS; i += 200) {
    await Promise.all(clients.slice(i, i + 200).map((c) => c.connect()));
  }
  const restarts = [];
  for (let r = 0; r < RESTARTS; r++) {
    const ready = server.ready();
    process.kill(pid, 'SIGHUP');
    const next = await ready;
    const deadline = Date.now() + 30_000;
    while (!clients.every((c) => c.pid === next) && Date.now() < deadline) await sleep(20);
    const closes = clients.flatMap((c) => c.closes.filter((x) => x.pid === pid));
    const at = closes.map((c) => c.at);
    restarts.push({
      closed: closes.length,
      code1001: closes.filter((c) => c.code === 1001).length,
      reconnected: clients.filter((c) => c.pid === next).length,
      windowMs: Math.round(Math.max(...at) - Math.min(...at)),
      ...spread(at),
    });
    pid = next;
    await sleep(500);
  }
  const failures = clients.reduce((sum, c) => sum + c.failures, 0);
  for (const c of clients) {
    c.stopped = true;
    c.socket?.terminate();
  }
  process.kill(pid, 'SIGTERM');
  await sleep(1000);
  for (const p of server.pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {}
  }
  return { upgradedPaceMs, clients: CLIENTS, failedReconnects: failures, restarts };
}

const results = {
  node: process.version,
  date: new Date().toISOString().slice(0, 10),
  command: 'node bench/websockets.mjs',
  runs: [],
};
for (const pace of [5000, 0]) {
  process.stdout.write(`upgradedPaceMs ${pace} ... `);
  const r = await run(pace);
  results.runs.push(r);
  console.log(
    `failed reconnects ${r.failedReconnects}; busiest 100 ms ${r.restarts.map((x) => x.peakPer100ms).join(' / ')}; peak/average ${r.restarts.map((x) => x.peakToAverage).join(' / ')}; windows ${r.restarts.map((x) => x.windowMs).join(' / ')} ms`,
  );
}
const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const file = new URL(`websockets-node${process.versions.node.split('.')[0]}.json`, dir);
writeFileSync(file, `${JSON.stringify(results, null, 1)}\n`);
console.log(`wrote ${file.pathname}; run node bench/report.mjs to render RESULTS.md`);
