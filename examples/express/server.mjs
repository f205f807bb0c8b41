// An express 5 app with zero-downtime restarts: app.use(graceful), and graceful.listen(app, ...)
// where app.listen(...) would be. The contract it keeps (env, routes, signals) is the one every
// example keeps: see examples/CONTRACT.md.
//   SIGHUP: start the next generation from the code and config on disk, then drain this one.
//   SIGTERM / SIGINT: drain, run the onShutdown hooks, exit 0.
import http from 'node:http';
import { expressGraceful } from '@graceful-restart/express';
import express from 'express';
import { WebSocketServer } from 'ws';
import { loadConfig } from '../shared/config.mjs';
import { longPoll, pollMs, serveWebSockets, streamEvents } from '../shared/streams.mjs';

const config = loadConfig();
const graceful = expressGraceful({
  pidFile: config.pidFile,
  // Readiness (503 before ready, during a lame duck and the final drain) and liveness.
  healthRoute: ['/healthz', '/readyz'],
  livenessRoute: '/livez',
  admin: config.admin,
});
const app = express();
app.use(graceful);

app.get('/', (_req, res) => {
  res.type('text').send(`${config.greeting} from pid=${process.pid}\n`);
});
app.get('/slow', (req, res) => {
  const raw = typeof req.query.ms === 'string' ? req.query.ms : '';
  const ms = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(ms >= 0 && ms <= 60_000)) {
    res.status(400).type('text').send('ms must be an integer from 0 to 60000\n');
    return;
  }
  setTimeout(() => res.type('text').send(`slept ${ms} ms in pid=${process.pid}\n`), ms);
});

// Long-lived: they end when the drain tells their connection to go (graceful.drainSignal).
app.get('/events', (req, res) => streamEvents(res, graceful.drainSignal(req)));
app.get('/poll', async (req, res) => {
  const ms = pollMs(typeof req.query.ms === 'string' ? req.query.ms : '');
  if (Number.isNaN(ms)) {
    res.status(400).type('text').send('ms must be an integer from 0 to 60000\n');
    return;
  }
  res.type('text').send(await longPoll(ms, graceful.drainSignal(req)));
});

// WebSockets on /ws, on the server before it listens; the drain closes them with 1001 (going
// away), a few at a time.
const server = http.createServer(app);
serveWebSockets(new WebSocketServer({ server, path: '/ws' }));
await graceful.listen(app, config.listener, { server });
console.log(
  `example-express pid=${process.pid} serving on ${graceful.graceful.endpoints[0]?.address}`,
);
