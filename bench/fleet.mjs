// A fleet behind a load balancer (issue: fleets), separate from `pnpm bench`: three instances of
// an example on three loopback addresses, HAProxy in front (readiness checks on /readyz every
// 500 ms, fall 2, rise 2, `retries 0`), wrk sending keep-alive load through it for the whole
// roll. Three rolls, one instance at a time:
//   - replacement with the lame duck off (GRACEFUL_RESTART_LAME_DUCK_MS=0): SIGTERM, a fresh
//     instance on the same address once the old one exited, as Kubernetes, ECS and Nomad roll;
//   - the same replacement with a lame duck of 8 s (it ends once the balancer has moved off);
//   - in place: SIGHUP on each instance.
// Reports wrk's requests and errors (non-2xx: HAProxy's 503 for a refused connection), each
// instance's SIGTERM-to-exit time and how its lame duck ended. Loopback only; every run stops by
// itself. Writes bench/results/fleet-node<major>.json.
//
//   node bench/fleet.mjs [http|fastify ...]
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';

const HOSTS = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
const PORT = 3411;
const LOAD_SECONDS = 24;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const examples = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['http', 'fastify'];
const entry = (example) => new URL(`../examples/${example}/server.mjs`, import.meta.url).pathname;

for (const tool of ['haproxy', 'wrk']) {
  if (spawnSync(tool, ['-v']).error)
    throw new Error(`${tool} is not installed (apt-get install ${tool})`);
}

async function answer(host, path) {
  try {
    const res = await fetch(`http://${host}:${PORT}${path}`, { signal: AbortSignal.timeout(1000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

/** True while `pid` runs (a zombie, state Z, has exited). */
function alive(pid) {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(check, timeoutMs, what) {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out: ${what}`);
}

function startInstance(example, host, env) {
  const child = spawn(process.execPath, [entry(example)], {
    env: { ...process.env, HOST: host, PORT: String(PORT), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => lines.push(line));
  }
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

async function ready(instance, host) {
  await until(
    async () => {
      const { status, body } = await answer(host, '/readyz');
      return status === 200 && body.includes(`"pid":${instance.child.pid}`);
    },
    10_000,
    `${host} ready`,
  );
}

function startHaproxy(dir) {
  const servers = HOSTS.map((h, i) => `  server s${i} ${h}:${PORT} check`).join('\n');
  writeFileSync(
    `${dir}/haproxy.cfg`,
    `global\n  maxconn 4096\n  stats socket ${dir}/stats.sock\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n  retries 0\n  option redispatch 0\nfrontend web\n  bind 127.0.0.1:3410\n  default_backend fleet\nbackend fleet\n  balance roundrobin\n  option httpchk GET /readyz\n  default-server inter 500 fall 2 rise 2\n${servers}\n`,
  );
  return spawn('haproxy', ['-db', '-f', `${dir}/haproxy.cfg`], { stdio: 'ignore' });
}

/** True once HAProxy sees `host` as up (its stats socket, `show servers state`). */
function serverUp(dir, host) {
  return new Promise((resolve) => {
    const socket = net.connect(`${dir}/stats.sock`);
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk) => (text += chunk));
    socket.on('error', () => resolve(false));
    socket.on('end', () =>
      resolve(
        text.split('\n').some((line) => {
          const fields = line.split(' ');
          return fields[4] === host && fields[5] === '2';
        }),
      ),
    );
    socket.end('show servers state fleet\n');
  });
}

function runWrk(seconds) {
  return new Promise((resolve) => {
    const wrk = spawn('wrk', ['-t2', '-c50', `-d${seconds}s`, 'http://127.0.0.1:3410/'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    wrk.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
    wrk.on('exit', () => {
      const num = (re) => Number(re.exec(out)?.[1] ?? 0);
      const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
        out,
      );
      resolve({
        requests: num(/(\d+) requests in/),
        non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
        socketErrors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
      });
    });
  });
}

async function roll(example, how, dir) {
  const env = { GRACEFUL_RESTART_LAME_DUCK_MS: how === 'replace, no lame duck' ? '0' : '8000' };
  const instances = [];
  for (const host of HOSTS) {
    const instance = startInstance(example, host, env);
    await ready(instance, host);
    instances.push(instance);
  }
  const haproxy = startHaproxy(dir);
  await sleep(2000);
  const load = runWrk(LOAD_SECONDS);
  await sleep(2000);
  const stops = [];
  const successors = [];
  for (const [i, host] of HOSTS.entries()) {
    const old = instances[i];
    const signalled = performance.now();
    if (how === 'in place (SIGHUP)') {
      old.child.kill('SIGHUP');
      let next = 0;
      await until(
        async () => {
          next = Number(/pid=(\d+)/.exec((await answer(host, '/')).body)?.[1] ?? 0);
          return next > 0 && next !== old.child.pid;
        },
        10_000,
        'new pid',
      );
      // Started by the old generation, not by this script: ended below by its pid.
      successors.push(next);
    } else {
      old.child.kill('SIGTERM');
      const code = await old.exited;
      const over = old.lines.find((line) => line.includes('lame duck over after'));
      stops.push({
        host,
        exitMs: Math.round(performance.now() - signalled),
        exitCode: code,
        lameDuck: over ? /lame duck over after (\d+ ms \([^)]*\))/.exec(over)?.[1] : 'none',
      });
      instances[i] = startInstance(example, host, env);
      await ready(instances[i], host);
      await until(() => serverUp(dir, host), 10_000, `${host} up in haproxy`);
    }
    await sleep(1500);
  }
  const result = await load;
  haproxy.kill('SIGTERM');
  for (const instance of instances) instance.child.kill('SIGTERM');
  await Promise.all(instances.map((instance) => instance.exited));
  for (const pid of successors) process.kill(pid, 'SIGTERM');
  await until(() => successors.every((pid) => !alive(pid)), 20_000, 'the successors exit');
  return { example, how, ...result, failed: result.non2xx + result.socketErrors, stops };
}

const dir = mkdtempSync(`${tmpdir()}/gr-fleet-`);
const results = [];
for (const example of examples) {
  for (const how of ['replace, no lame duck', 'replace, lame duck 8 s', 'in place (SIGHUP)']) {
    const result = await roll(example, how, dir);
    results.push(result);
    console.log(
      `${example} ${how}: ${result.failed} failed of ${result.requests}` +
        (result.stops.length
          ? `; SIGTERM to exit ${result.stops.map((s) => s.exitMs).join(', ')} ms; lame duck ${result.stops.map((s) => s.lameDuck).join(', ')}`
          : ''),
    );
  }
}
const major = process.versions.node.split('.')[0];
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL(`./results/fleet-node${major}.json`, import.meta.url),
  `${JSON.stringify({ node: process.version, results }, null, 2)}\n`,
);
