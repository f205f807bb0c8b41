// The server bench/websockets.mjs restarts: node:http with core and a `ws` WebSocketServer that
// says `pid=N` to each client. UPGRADED_PACE_MS sets drain.upgradedPaceMs (0: every WebSocket
// closed at once, as before pacing). Prints {"event":"ready",...} on stdout.
import http from 'node:http';
import { createGraceful } from '@graceful-restart/core';
import { WebSocketServer } from 'ws';

const drain = {};
if (process.env.UPGRADED_PACE_MS) drain.upgradedPaceMs = Number(process.env.UPGRADED_PACE_MS);
const graceful = createGraceful({ drain, logger: false });
const server = http.createServer((_req, res) => res.end(`pid=${process.pid}\n`));
new WebSocketServer({ server }).on('connection', (socket) => socket.send(`pid=${process.pid}`));
const { port } = await graceful.listen(server, { port: Number(process.env.PORT ?? 0) });
await graceful.ready();
process.stdout.write(`${JSON.stringify({ event: 'ready', pid: process.pid, port })}\n`);
