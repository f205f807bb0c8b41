// Idle grace vs client errors and drain time. For each idle grace, a server is restarted R times
// under C keep-alive clients (node's http.Agent) that think a random 0..T ms between requests;
// reports the client errors and how long each old generation took to drain.
// Bounded: R restarts per value, every server stopped by its pid. Loopback only.
// Usage: node bench/drain-idle-grace.mjs [R=20] [C=50] [T=3000] [graces=250,500,1000,2000]
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const restarts = Number(process.argv[2] ?? 20);
const clients = Number(process.argv[3] ?? 50);
const thinkMax = Number(process.argv[4] ?? 3000);
const graces = (process.argv[5] ?? '250,500,1000,2000').split(',').map(Number);
const entry = fileURLToPath(new URL('./servers/drain-http.mjs', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function measure(idleGraceMs, hint, client) {
  const child = spawn(process.execPath, [entry], {
    env: { ...process.env, IDLE_GRACE_MS: String(idleGraceMs), KEEP_ALIVE_HINT: hint ? '1' : '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events = [];
  const waiters = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const event = JSON.parse(line);
    events.push(event);
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = async (match, limitMs = 10_000) => {
    const end = performance.now() + limitMs;
    for (;;) {
      const found = events.find(match);
      if (found) return found;
      if (performance.now() > end) throw new Error('bench server did not answer in time');
      await new Promise((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  const pids = [];
  try {
    const first = await waitFor((e) => e.event === 'ready');
    pids.push(first.pid);
    // One agent per client: each holds its own keep-alive socket, like separate users.
    // "global": configured like node's http.globalAgent (timeout 5000, so it honours the
    // server's Keep-Alive hint); "bare": new http.Agent({ keepAlive: true }), which ignores it.
    const agents = Array.from(
      { length: clients },
      () =>
        new http.Agent({
          keepAlive: true,
          maxSockets: 1,
          ...(client === 'global' ? { timeout: 5000 } : {}),
        }),
    );
    let running = true;
    let ok = 0;
    const errors = {};
    const loop = async (agent) => {
      while (running) {
        await new Promise((resolve) => {
          http
            .get({ host: '127.0.0.1', port: first.port, agent }, (res) => {
              res.resume();
              res.on('end', () => {
                ok++;
                resolve();
              });
            })
            .on('error', (e) => {
              errors[e.code ?? e.message] = (errors[e.code ?? e.message] ?? 0) + 1;
              resolve();
            });
        });
        await sleep(Math.random() * thinkMax);
      }
    };
    const loops = agents.map(loop);
    await sleep(thinkMax);
    for (let i = 0; i < restarts; i++) {
      const pid = pids.at(-1);
      process.kill(pid, 'SIGHUP');
      const next = await waitFor((e) => e.event === 'ready' && !pids.includes(e.pid));
      pids.push(next.pid);
      await sleep(300);
    }
    const reports = await Promise.all(
      pids
        .slice(0, -1)
        .map((pid) => waitFor((e) => e.event === 'drained' && e.pid === pid, 30_000)),
    );
    running = false;
    await Promise.all(loops);
    for (const agent of agents) agent.destroy();
    if (process.env.BENCH_DEBUG) console.log(reports);
    const durations = reports.map((r) => r.durationMs).sort((a, b) => a - b);
    return {
      idleGraceMs,
      hint,
      client,
      requests: ok + Object.values(errors).reduce((a, b) => a + b, 0),
      errors,
      closedIdle: reports.reduce((a, r) => a + r.socketsClosedIdle, 0),
      drainMedianMs: durations[Math.floor(durations.length / 2)],
      drainMaxMs: durations.at(-1),
    };
  } finally {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
}

console.log(
  `node ${process.version}: ${restarts} restarts per row, ${clients} keep-alive clients thinking 0..${thinkMax} ms`,
);
console.log(
  'idle grace | keepAliveHint | client agent | requests | client errors | sockets closed idle | drain median / max',
);
for (const grace of graces)
  for (const hint of [false, true])
    for (const client of ['global', 'bare']) {
      const r = await measure(grace, hint, client);
      const errors =
        Object.entries(r.errors)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ') || '0';
      console.log(
        `${String(r.idleGraceMs).padStart(7)} ms | ${String(r.hint).padStart(13)} | ${r.client.padStart(12)} | ${String(r.requests).padStart(8)} | ${errors.padStart(13)} | ${String(r.closedIdle).padStart(19)} | ${r.drainMedianMs} / ${r.drainMaxMs} ms`,
      );
    }
