// A probe outside the load: which pid answers now, on a fresh connection each time.
import http from 'node:http';
import net from 'node:net';

const agent = new http.Agent({ keepAlive: false });

export function servingPid(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(Number(/pid=(\d+)/.exec(body)?.[1]) || undefined));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}

/** Polls until a pid `accept` takes answers; resolves with [pid, time first seen]. */
export async function waitForServing(port, accept, limitMs = 20_000) {
  const end = performance.now() + limitMs;
  while (performance.now() < end) {
    const pid = await servingPid(port);
    if (pid && accept(pid)) return [pid, performance.now()];
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`nothing acceptable served on port ${port} within ${limitMs} ms`);
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
