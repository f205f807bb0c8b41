// A Hono app on Node (@hono/node-server) with zero-downtime restarts: app.use(graceful), and
// graceful.listen(app, ...) where serve({ fetch: app.fetch }) would be. The contract it keeps
// (env, routes, signals) is the one every example keeps: see examples/CONTRACT.md.
//   SIGHUP: start the next generation from the code and config on disk, then drain this one.
//   SIGTERM / SIGINT: drain, run the onShutdown hooks, exit 0.
import http from 'node:http';
import { honoGraceful } from '@graceful-restart/hono';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { WebSocketServer } from 'ws';
import { loadConfig } from '../shared/config.mjs';
import {
  EVENT_STREAM_HEADERS,
  eventStream,
  longPoll,
  pollMs,
  serveWebSockets,
} from '../shared/streams.mjs';

const config = loadConfig();
const graceful = honoGraceful({
  pidFile: config.pidFile,
  // Readiness (503 before ready, during a lame duck and the final drain) and liveness.
  healthRoute: ['/healthz', '/readyz'],
  livenessRoute: '/livez',
  admin: config.admin,
});
const app = new Hono();
app.use(graceful);

app.get('/', (c) => c.text(`${config.greeting} from pid=${process.pid}\n`));
app.get('/slow', async (c) => {
  const raw = c.req.query('ms') ?? '';
  const ms = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(ms >= 0 && ms <= 60_000)) return c.text('ms must be an integer from 0 to 60000\n', 400);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return c.text(`slept ${ms} ms in pid=${process.pid}\n`);
});

// Long-lived: they end when the drain tells their connection to go (graceful.drainSignal).
app.get('/events', (c) => c.body(eventStream(graceful.drainSignal(c)), 200, EVENT_STREAM_HEADERS));
app.get('/poll', async (c) => {
  const ms = pollMs(c.req.query('ms'));
  if (Number.isNaN(ms)) return c.text('ms must be an integer from 0 to 60000\n', 400);
  return c.text(await longPoll(ms, graceful.drainSignal(c)));
});

// WebSockets on /ws, on the server before it listens; the drain closes them with 1001 (going
// away), a few at a time.
const server = http.createServer(getRequestListener(app.fetch));
serveWebSockets(new WebSocketServer({ server, path: '/ws' }));
await graceful.listen(app, config.listener, { server });
console.log(
  `example-hono pid=${process.pid} serving on ${graceful.graceful.endpoints[0]?.address}`,
);
