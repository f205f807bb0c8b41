// The server bench/drain-idle-grace.mjs restarts: node:http with core, drain settings from env
// (IDLE_GRACE_MS, DEADLINE_MS, KEEP_ALIVE_HINT=0). Prints {"event":"ready"|"drained",...} lines on stdout.
import http from 'node:http';
import { createGraceful } from '@graceful-restart/core';

const drain = {};
if (process.env.IDLE_GRACE_MS) drain.idleGraceMs = Number(process.env.IDLE_GRACE_MS);
if (process.env.KEEP_ALIVE_HINT === '0') drain.keepAliveHint = false;
if (process.env.DEADLINE_MS) drain.deadlineMs = Number(process.env.DEADLINE_MS);
const graceful = createGraceful({ drain, logger: false });
const emit = (event, extra) =>
  process.stdout.write(`${JSON.stringify({ event, pid: process.pid, ...extra })}\n`);
graceful.on('drained', (report) => emit('drained', report));

const server = http.createServer((_req, res) => res.end(`pid=${process.pid}\n`));
const { port } = await graceful.listen(server, { port: Number(process.env.PORT ?? 0) });
await graceful.ready();
emit('ready', { port });
