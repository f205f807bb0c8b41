// A fastify app with zero-downtime restarts: one register() line, and fastify.listen() as usual.
// The contract it keeps (env, routes, signals) is the one every example keeps: see examples/CONTRACT.md.
//   SIGHUP: start the next generation from the code and config on disk, then drain this one.
//   SIGTERM / SIGINT: drain, run fastify's onClose hooks, exit 0.
import gracefulRestart from '@graceful-restart/fastify';
import Fastify from 'fastify';
import { WebSocketServer } from 'ws';
import { loadConfig } from '../shared/config.mjs';
import { longPoll, pollMs, serveWebSockets, streamEvents } from '../shared/streams.mjs';

const config = loadConfig();
const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } });
await app.register(gracefulRestart, {
  pidFile: config.pidFile,
  // Readiness (503 before ready, during a lame duck and the final drain) and liveness.
  healthRoute: ['/healthz', '/readyz'],
  livenessRoute: '/livez',
  admin: config.admin,
});

app.get('/', async () => `${config.greeting} from pid=${process.pid}\n`);
app.get('/slow', async (request, reply) => {
  const raw = request.query.ms ?? '';
  const ms = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(ms >= 0 && ms <= 60_000))
    return reply.code(400).send('ms must be an integer from 0 to 60000\n');
  await new Promise((resolve) => setTimeout(resolve, ms));
  return `slept ${ms} ms in pid=${process.pid}\n`;
});

// Long-lived: they end when the drain tells their connection to go (request.drainSignal).
app.get('/events', (request, reply) => {
  reply.hijack();
  streamEvents(reply.raw, request.drainSignal);
});
app.get('/poll', async (request, reply) => {
  const ms = pollMs(request.query.ms);
  if (Number.isNaN(ms)) return reply.code(400).send('ms must be an integer from 0 to 60000\n');
  return longPoll(ms, request.drainSignal);
});
// WebSockets on /ws; the drain closes them with 1001 (going away), a few at a time.
serveWebSockets(new WebSocketServer({ server: app.server, path: '/ws' }));

const { listener } = config;
await app.listen(
  listener.path ? { path: listener.path } : { port: listener.port, host: listener.host },
);
