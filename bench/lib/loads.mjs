// The two loads a strategy runs under, closed-loop with `connections` clients, both reporting
// onResponse(latencyMs, status) and onError(kind), and, if given, onPid(pid) with the pid each
// answer names; both stop by themselves after `seconds`.
//
// - keep-alive on: autocannon.
// - keep-alive off: every request on a new connection, which the client closes as soon as the
//   response is in. autocannon cannot do this on loopback: with `Connection: close` the server
//   closes first and keeps each closed connection in TIME_WAIT for 60 s; loopback has ~28,000
//   client ports, so above ~450 connections/s new SYNs land on the server's TIME_WAIT entries
//   and wait for retransmission (1 s, 3 s), and every strategy showed a 2 s p99. With the client
//   closing first, TIME_WAIT stays on the client's side, where Linux reuses it for loopback
//   connects (net.ipv4.tcp_tw_reuse=2, the default). autocannon's `reconnectRate` closes from
//   the client, but never reports the responses it closes after.
import net from 'node:net';
import autocannon from 'autocannon';

const TIMEOUT_MS = 5000;

/** refused | reset | timeout | other, from a socket error. */
export function classify(error) {
  const code = error.code ?? '';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'EPIPE' || /hang up|other side closed/.test(error.message))
    return 'reset';
  if (/timed out/.test(error.message)) return 'timeout';
  return 'other';
}

/** The pid an answer of servers/app.mjs names (`pid=N`). */
const pidOf = (text) => Number(/pid=(\d+)/.exec(text)?.[1]) || undefined;

/** `ratePerConnection`, if given: each client sends that many requests a second, no more. */
export function keepAliveLoad({
  port,
  connections,
  seconds,
  onResponse,
  onError,
  onPid,
  ratePerConnection,
}) {
  const instance = autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections,
    duration: seconds,
    ...(ratePerConnection ? { connectionRate: ratePerConnection } : {}),
    timeout: TIMEOUT_MS / 1000,
    ...(onPid
      ? { setupClient: (client) => client.on('body', (body) => onPid(pidOf(String(body)))) }
      : {}),
  });
  instance.on('response', (_client, status, _bytes, latency) => onResponse(latency, status));
  instance.on('reqError', (error) => onError(classify(error)));
  const done = new Promise((resolve) => instance.once('done', resolve));
  return { done, stop: () => instance.stop() };
}

export function newConnectionLoad({ port, connections, seconds, onResponse, onError, onPid }) {
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  const endAt = performance.now() + seconds * 1000;
  let stopped = false;
  const open = new Set();

  /** One request on its own connection; resolves once it is answered or has failed. */
  const once = () =>
    new Promise((resolve) => {
      const begin = performance.now();
      const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
      open.add(socket);
      let text = '';
      let settled = false;
      const settle = (kind, status) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        open.delete(socket);
        socket.destroy();
        if (kind === 'ok') {
          onResponse(performance.now() - begin, status);
          onPid?.(pidOf(text));
        } else onError(kind);
        resolve();
      };
      const timer = setTimeout(() => settle('timeout'), TIMEOUT_MS);
      socket.on('connect', () => socket.write(request));
      socket.on('data', (chunk) => {
        text += chunk.toString('latin1');
        const end = complete(text);
        if (end === 'bad') settle('other');
        else if (end !== undefined) settle('ok', end);
      });
      socket.on('error', (error) => settle(classify(error)));
      // Closed by the server before a whole response: what a client sees as a reset.
      socket.on('close', () => settle('reset'));
    });

  const client = async () => {
    while (!stopped && performance.now() < endAt) await once();
  };
  const done = Promise.all(Array.from({ length: connections }, client));
  return {
    done,
    stop: () => {
      stopped = true;
      for (const socket of open) socket.destroy();
    },
  };
}

/** The status once `text` holds one whole response, 'bad' if it is not one, else undefined. */
function complete(text) {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return text.length > 8192 ? 'bad' : undefined;
  const head = text.slice(0, headEnd);
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  if (!status) return 'bad';
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  const body = text.length - headEnd - 4;
  if (length) return body >= Number(length[1]) ? Number(status[1]) : undefined;
  if (/\r\ntransfer-encoding: *chunked/i.test(head))
    return text.endsWith('\r\n0\r\n\r\n') ? Number(status[1]) : undefined;
  return 'bad';
}
