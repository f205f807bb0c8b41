// A koa 3 app with zero-downtime restarts: app.use(graceful), and graceful.listen(app, ...)
// where app.listen(...) would be. The contract it keeps (env, routes, signals) is the one every
// example keeps: see examples/CONTRACT.md.
//   SIGHUP: start the next generation from the code and config on disk, then drain this one.
//   SIGTERM / SIGINT: drain, run the onShutdown hooks, exit 0.
import http from 'node:http';
import { koaGraceful } from '@graceful-restart/koa';
import Koa from 'koa';
import { WebSocketServer } from 'ws';
import { loadConfig } from '../shared/config.mjs';
import { longPoll, pollMs, serveWebSockets, streamEvents } from '../shared/streams.mjs';

const config = loadConfig();
const graceful = koaGraceful({
  pidFile: config.pidFile,
  // Readiness (503 before ready, during a lame duck and the final drain) and liveness.
  healthRoute: ['/healthz', '/readyz'],
  livenessRoute: '/livez',
  admin: config.admin,
});
const app = new Koa();
app.use(graceful);

app.use(async (ctx) => {
  if (ctx.method !== 'GET') return;
  if (ctx.path === '/') {
    ctx.body = `${config.greeting} from pid=${process.pid}\n`;
  } else if (ctx.path === '/slow') {
    const raw = typeof ctx.query.ms === 'string' ? ctx.query.ms : '';
    const ms = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(ms >= 0 && ms <= 60_000)) {
      ctx.status = 400;
      ctx.body = 'ms must be an integer from 0 to 60000\n';
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, ms));
    ctx.body = `slept ${ms} ms in pid=${process.pid}\n`;
  } else if (ctx.path === '/events') {
    // Long-lived: they end when the drain tells their connection to go (graceful.drainSignal).
    ctx.respond = false;
    streamEvents(ctx.res, graceful.drainSignal(ctx));
  } else if (ctx.path === '/poll') {
    const ms = pollMs(typeof ctx.query.ms === 'string' ? ctx.query.ms : '');
    if (Number.isNaN(ms)) {
      ctx.status = 400;
      ctx.body = 'ms must be an integer from 0 to 60000\n';
      return;
    }
    ctx.body = await longPoll(ms, graceful.drainSignal(ctx));
  }
});

// WebSockets on /ws, on the server before it listens; the drain closes them with 1001 (going
// away), a few at a time.
const server = http.createServer(app.callback());
serveWebSockets(new WebSocketServer({ server, path: '/ws' }));
await graceful.listen(app, config.listener, { server });
console.log(`example-koa pid=${process.pid} serving on ${graceful.graceful.endpoints[0]?.address}`);
