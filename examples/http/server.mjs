// A plain node:http server with zero-downtime restarts. The contract it keeps (env, routes,
// signals) is the one every example keeps: see examples/CONTRACT.md.
//   SIGHUP: start the next generation from the code and config on disk, then drain this one.
//   SIGTERM / SIGINT: drain and exit 0.
// GET /metrics: restart metrics for Prometheus (metrics.mjs).
// GET /events, GET /poll, /ws: a stream, a long poll and WebSockets that move over at a restart.
import http from 'node:http';
import { createAdminRoute, createGraceful } from '@graceful-restart/core';
import { WebSocketServer } from 'ws';
import { loadConfig } from '../shared/config.mjs';
import { longPoll, pollMs, serveWebSockets, streamEvents } from '../shared/streams.mjs';
import { restartMetrics } from './metrics.mjs';

const config = loadConfig();
const graceful = createGraceful({ pidFile: config.pidFile });
// POST /graceful and GET /graceful/status, with GRACEFUL_RESTART_TOKEN as the bearer secret.
const admin = createAdminRoute(graceful, config.admin, graceful.logger);
// GET /metrics: restarts, drains and failures for Prometheus, totals carried across generations.
const metrics = restartMetrics(graceful);

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (admin?.matches(url.pathname)) return void admin.serveNode(req, res);
  const text = (status, body) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`${body}\n`);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed');
  switch (url.pathname) {
    case '/':
      return text(200, `${config.greeting} from pid=${process.pid}`);
    case '/slow': {
      const raw = url.searchParams.get('ms') ?? '';
      const ms = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!(ms >= 0 && ms <= 60_000)) return text(400, 'ms must be an integer from 0 to 60000');
      return setTimeout(() => text(200, `slept ${ms} ms in pid=${process.pid}`), ms);
    }
    // Long-lived: they end when the drain tells their connection to go (graceful.drainSignal).
    case '/events':
      return streamEvents(res, graceful.drainSignal(req));
    case '/poll': {
      const ms = pollMs(url.searchParams.get('ms'));
      if (Number.isNaN(ms)) return text(400, 'ms must be an integer from 0 to 60000');
      return void longPoll(ms, graceful.drainSignal(req)).then((body) => text(200, body.trim()));
    }
    case '/metrics':
      return void metrics.text().then((body) => {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(body);
      });
    // Readiness: 503 before ready, during a lame duck and the final drain. Liveness: 200.
    case '/healthz':
    case '/readyz':
    case '/livez': {
      const { statusCode, body } =
        url.pathname === '/livez' ? graceful.liveness() : graceful.readiness();
      res.writeHead(statusCode, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(body));
    }
    default:
      return text(404, 'not found');
  }
});

// WebSockets on /ws; the drain closes them with 1001 (going away), a few at a time.
serveWebSockets(new WebSocketServer({ server, path: '/ws' }));

const { address } = await graceful.listen(server, config.listener);
await graceful.ready();
console.log(`example-http pid=${process.pid} serving on ${address}`);
