// A NestJS 11 app (express platform) with zero-downtime restarts: app.use(graceful) before
// app.init(), and graceful.listen(...) with Nest's own server where app.listen(...) would be.
// The contract it keeps (env, routes, signals) is the one every example keeps: see examples/CONTRACT.md.
//   SIGHUP: start the next generation from the code and config on disk, then drain this one.
//   SIGTERM / SIGINT: drain, then app.close() runs Nest's shutdown hooks once, exit 0.
// No app.enableShutdownHooks(): graceful-restart owns the signals, and runs Nest's hooks after
// the last request instead of while requests are in flight.
import 'reflect-metadata';
import { expressGraceful } from '@graceful-restart/express';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { WebSocketServer } from 'ws';
import { loadConfig } from '../../shared/config.mjs';
import { serveWebSockets } from '../../shared/streams.mjs';
import { appModule } from './app.module.js';

const config = loadConfig();
const graceful = expressGraceful({
  pidFile: config.pidFile,
  // Readiness (503 before ready, during a lame duck and the final drain) and liveness.
  healthRoute: ['/healthz', '/readyz'],
  livenessRoute: '/livez',
  admin: config.admin,
});
const app = await NestFactory.create<NestExpressApplication>(
  appModule(config, graceful.drainSignal),
  {
    logger: process.env['LOG_LEVEL'] === 'silent' ? false : ['log', 'warn', 'error', 'fatal'],
  },
);
app.use(graceful);
graceful.graceful.onShutdown(() => app.close());
await app.init();
// WebSockets on /ws, on Nest's server before it listens; the drain closes them with 1001 (going
// away), a few at a time.
serveWebSockets(new WebSocketServer({ server: app.getHttpServer(), path: '/ws' }));

await graceful.listen(app.getHttpAdapter().getInstance(), [
  { ...config.listener, server: app.getHttpServer() },
]);
console.log(
  `example-nestjs pid=${process.pid} serving on ${graceful.graceful.endpoints[0]?.address}`,
);
