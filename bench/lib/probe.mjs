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

/**
 * A free TCP port on 127.0.0.1, below the ephemeral range (32768-60999): a client's connect can
 * then never pick it as its own source port, which would connect a socket to itself while a
 * restarting server is not listening, and hold the port the next server binds.
 */
export async function freePort() {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/**
 * Opens `connections` keep-alive connections at once (a client pool filling, clients
 * reconnecting together), one GET on each; resolves with the pid each was answered by, once the
 * connections are closed again.
 */
export async function burstOfConnections(port, connections) {
  const agents = Array.from(
    { length: connections },
    () => new http.Agent({ keepAlive: true, maxSockets: 1 }),
  );
  const pids = await Promise.all(
    agents.map(
      (agent) =>
        new Promise((resolve, reject) =>
          http
            .get({ host: '127.0.0.1', port, agent }, (res) => {
              let body = '';
              res.on('data', (c) => (body += c));
              res.on('end', () => resolve(Number(/pid=(\d+)/.exec(body)?.[1])));
            })
            .on('error', reject),
        ),
    ),
  );
  for (const agent of agents) agent.destroy();
  return pids;
}
