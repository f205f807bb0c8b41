// The app every restart strategy of the benchmark runs: GET / answers "pid=N" after a small
// synchronous workload (WORK_ITERATIONS, default 2000 rounds of hashing-like arithmetic), so
// requests cost what a small JSON endpoint costs. MODE selects how it listens and stops:
//   graceful   @graceful-restart/core: SIGHUP hands over, SIGTERM drains (also under the supervisor)
//   plain      node:http only: SIGTERM closes the listener, exits once connections are gone
//   reuseport  like plain, bound with SO_REUSEPORT (Node >= 22.12), so two generations overlap
//   cluster    node:cluster primary with WORKERS workers (default 1); SIGHUP forks a new worker
//              per worker, and disconnects each old one once its replacement listens (what pm2
//              reload does in cluster mode, here for all workers at once)
// Prints {"event":"listening","pid":N} on stdout once it accepts. PROBATION_MS sets the graceful
// mode's probationMs, PACE_MS its drain.paceMs, LISTENERS the number of listeners (default 1),
// KEEPALIVE_TIMEOUT_MS its server's keepAliveTimeout;
// CRASH_SUCCESSOR_MS makes every successor die that long after ready.
import cluster from 'node:cluster';
import http from 'node:http';

const mode = process.env.MODE ?? 'plain';
const port = Number(process.env.PORT ?? 3000);
const work = Number(process.env.WORK_ITERATIONS ?? 2000);

function handler(_req, res) {
  let x = 0;
  for (let i = 0; i < work; i++) x = (x * 31 + i) % 1_000_003;
  res.setHeader('content-type', 'text/plain');
  res.end(`pid=${process.pid} x=${x}\n`);
}
const say = (event) => process.stdout.write(`${JSON.stringify({ event, pid: process.pid })}\n`);

if (mode === 'graceful') {
  const { createGraceful } = await import('@graceful-restart/core');
  const probation = process.env.PROBATION_MS;
  const pace = process.env.PACE_MS;
  const graceful = createGraceful({
    logger: false,
    ...(probation === undefined ? {} : { probationMs: Number(probation) }),
    ...(pace === undefined ? {} : { drain: { paceMs: Number(pace) } }),
  });
  const server = http.createServer(handler);
  // KEEPALIVE_TIMEOUT_MS: keep idle clients longer than node's 5 s (bench/scale.mjs's idle ones).
  if (process.env.KEEPALIVE_TIMEOUT_MS) {
    server.keepAliveTimeout = Number(process.env.KEEPALIVE_TIMEOUT_MS);
  }
  await graceful.listen(server, { name: 'web', host: '127.0.0.1', port });
  // LISTENERS=N: N - 1 more listeners on ephemeral ports (bench/scale.mjs's handover cost).
  for (let i = 1; i < Number(process.env.LISTENERS ?? 1); i++) {
    await graceful.listen(http.createServer(handler), { name: `extra${i}`, port: 0 });
  }
  await graceful.ready();
  say('listening');
  // A bad release, for the probation benchmark: every successor dies this long after ready.
  const crash = Number(process.env.CRASH_SUCCESSOR_MS ?? 0);
  if (crash > 0 && graceful.isSuccessor) setTimeout(() => process.exit(1), crash);
} else if (mode === 'cluster' && cluster.isPrimary) {
  const count = Number(process.env.WORKERS ?? 1);
  let current = Array.from({ length: count }, () => cluster.fork());
  let listening = 0;
  for (const worker of current) {
    worker.once('listening', () => {
      if (++listening === count) say('listening');
    });
  }
  process.on('SIGHUP', () => {
    current = current.map((old) => {
      const next = cluster.fork();
      // disconnect(): the worker's server stops accepting, open connections finish, it exits.
      next.once('listening', () => old.disconnect());
      return next;
    });
  });
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.disconnect();
    cluster.disconnect(() => process.exit(0));
  });
} else {
  // plain, reuseport, or a cluster worker.
  const server = http.createServer(handler);
  server.listen(
    { port, host: '127.0.0.1', ...(mode === 'reuseport' ? { reusePort: true } : {}) },
    () => {
      if (mode !== 'cluster') say('listening');
    },
  );
  const stop = () => {
    server.close(() => process.exit(0));
    // Idle keep-alive sockets would hold close() open until their timeout.
    server.closeIdleConnections();
  };
  // pm2 stops an old worker with SIGINT, systemd and docker with SIGTERM.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
