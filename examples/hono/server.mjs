// A Hono app on Node (@hono/node-server) with zero-downtime restarts: app.use(graceful), and
// graceful.listen(app, ...) where serve({ fetch: app.fetch }) would be. The contract it keeps
// (env, routes, signals) is the one every example keeps: see examples/CONTRACT.md.
//   SIGHUP: start the next generation from the code and config on disk, then drain this one.
//   SIGTERM / SIGINT: drain, run the onShutdown hooks, exit 0.
import { honoGraceful } from '@graceful-restart/hono';
import { Hono } from 'hono';
import { loadConfig } from '../shared/config.mjs';

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

await graceful.listen(app, config.listener);
console.log(
  `example-hono pid=${process.pid} serving on ${graceful.graceful.endpoints[0]?.address}`,
);
