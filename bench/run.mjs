// Handover time of examples/http: SIGHUP sent -> first response from the new pid, over K
// restarts on loopback. Bounded: K restarts, each waiting at most 10 s; the server is stopped by
// its pid at the end. Usage: node bench/run.mjs [K=10]
import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const restarts = Number(process.argv[2] ?? 10);
const port = 20000 + (process.pid % 20000);
const entry = fileURLToPath(new URL('../examples/http/server.mjs', import.meta.url));
const server = spawn(process.execPath, [entry], {
  env: { ...process.env, PORT: String(port) },
  stdio: 'ignore',
});

const agent = new http.Agent({ keepAlive: false });
const servingPid = () =>
  new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve(Number(/pid=(\d+)/.exec(body)?.[1])));
      })
      .on('error', () => resolve(undefined));
  });

async function waitForPid(accept, limitMs = 10_000) {
  const end = performance.now() + limitMs;
  while (performance.now() < end) {
    const pid = await servingPid();
    if (pid && accept(pid)) return pid;
  }
  throw new Error('timed out waiting for the server');
}

const durations = [];
try {
  let pid = await waitForPid(() => true);
  for (let i = 0; i < restarts; i++) {
    const started = performance.now();
    process.kill(pid, 'SIGHUP');
    const next = await waitForPid((p) => p !== pid);
    durations.push(performance.now() - started);
    pid = next;
  }
  process.kill(pid, 'SIGTERM');
} finally {
  if (server.exitCode === null) server.kill('SIGTERM');
}
durations.sort((a, b) => a - b);
const at = (q) =>
  durations[Math.min(durations.length - 1, Math.floor(q * durations.length))].toFixed(1);
console.log(
  `examples/http on node ${process.version}: ${restarts} restarts, SIGHUP -> new pid serving`,
);
console.log(`  median ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms`);
