// The long-lived routes every example serves alike (examples/CONTRACT.md): a Server-Sent Events
// stream, a long poll and a WebSocket echo. Each ends when the drain tells its connection to go
// (graceful.drainSignal(req)), paced with the other connections: clients move to the next
// generation spread out, and nothing waits for the drain's deadline to be cut.

/** The client reconnects this long after a stream ends (the SSE `retry:` field). */
const RETRY_MS = 500;

/**
 * GET /events: `retry:`, then `data: pid=<pid> n=<k>` every second; once `drainSignal` fires,
 * a last `event: restart` and the end. `write` and `end` send to the client; returns a stop for
 * when the client goes first.
 */
export function sendEvents(drainSignal, write, end) {
  let n = 0;
  write(`retry: ${RETRY_MS}\n\n`);
  const tick = () => write(`data: pid=${process.pid} n=${n++}\n\n`);
  tick();
  const timer = setInterval(tick, 1000);
  const stop = () => {
    clearInterval(timer);
    drainSignal.removeEventListener('abort', finish);
  };
  const finish = () => {
    stop();
    end(`event: restart\ndata: pid=${process.pid}\n\n`);
  };
  if (drainSignal.aborted) finish();
  else drainSignal.addEventListener('abort', finish, { once: true });
  return stop;
}

export const EVENT_STREAM_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
};

/** GET /events on a node response (node:http, express, koa's ctx.res, fastify's reply.raw). */
export function streamEvents(res, drainSignal) {
  res.writeHead(200, EVENT_STREAM_HEADERS);
  const stop = sendEvents(
    drainSignal,
    (text) => res.write(text),
    (text) => res.end(text),
  );
  res.on('close', stop);
}

/** GET /events as a web stream (Hono). */
export function eventStream(drainSignal) {
  const encoder = new TextEncoder();
  let stop;
  return new ReadableStream({
    start(controller) {
      stop = sendEvents(
        drainSignal,
        (text) => controller.enqueue(encoder.encode(text)),
        (text) => {
          controller.enqueue(encoder.encode(text));
          controller.close();
        },
      );
    },
    cancel: () => stop?.(),
  });
}

/** The `ms` of GET /poll (as of GET /slow): an integer from 0 to 60000, else NaN. */
export function pollMs(raw) {
  const ms = /^\d+$/.test(raw ?? '') ? Number(raw) : Number.NaN;
  return ms >= 0 && ms <= 60_000 ? ms : Number.NaN;
}

/**
 * GET /poll?ms=N: the answer after N ms (`timeout`), or as soon as the drain tells this
 * connection to go (`drain`): a long poll spanning a restart is answered, and the client's next
 * poll goes to the next generation.
 */
export function longPoll(ms, drainSignal) {
  return new Promise((resolve) => {
    const answer = (why) => {
      clearTimeout(timer);
      drainSignal.removeEventListener('abort', onDrain);
      resolve(`${why} after polling in pid=${process.pid}\n`);
    };
    const onDrain = () => answer('drain');
    const timer = setTimeout(() => answer('timeout'), ms);
    if (drainSignal.aborted) onDrain();
    else drainSignal.addEventListener('abort', onDrain, { once: true });
  });
}

/**
 * WebSockets (a `ws` WebSocketServer on path /ws): `pid=<pid>` on open, then every text message
 * echoed as `pid=<pid> <message>`. The drain closes each with 1001 (going away), paced.
 */
export function serveWebSockets(wss) {
  wss.on('connection', (socket) => {
    socket.send(`pid=${process.pid}`);
    socket.on('message', (data) => socket.send(`pid=${process.pid} ${data}`));
  });
  return wss;
}
