import http from 'node:http';
import net from 'node:net';

export type Endpoint = { host: string; port: number } | { socketPath: string };

/** The status and whole body of a response. */
export function readResponse(res: http.IncomingMessage): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      body += chunk;
    });
    res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    res.on('error', reject);
  });
}

/** GET `path` on a new connection (no keep-alive); resolves with the status and body. */
export function get(endpoint: Endpoint, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ ...endpoint, path, agent: false }, (res) => readResponse(res).then(resolve, reject))
      .on('error', reject);
  });
}

/** The `pid=N` every test server puts in its answers. */
export const pidIn = (body: string) => Number(/pid=(\d+)/.exec(body)?.[1]);

/** The pid that answers GET / at `endpoint`. */
export async function pidAt(endpoint: Endpoint): Promise<number> {
  return pidIn((await get(endpoint)).body);
}

/**
 * The pid that answers at `endpoint`, asked until it is `pid` (or `timeoutMs` passed): right
 * after a restart's `restart` event the old generation still accepts for a moment, until its
 * drain closes its listener.
 */
export async function servedBy(endpoint: Endpoint, pid: number, timeoutMs = 5000): Promise<number> {
  const end = Date.now() + timeoutMs;
  let served = await pidAt(endpoint);
  while (served !== pid && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    served = await pidAt(endpoint);
  }
  return served;
}

/**
 * A TCP port that was free a moment ago on `host`. Test files run side by side: each vitest
 * worker takes ports from a range of its own, below the kernel's ephemeral range, so that no
 * other worker's server, nor any client's outgoing connection, is given the same port before
 * the test's server binds it.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const worker = Number(process.env['VITEST_POOL_ID'] ?? 0) % PORT_RANGES;
  const base = FIRST_PORT + worker * PORTS_PER_WORKER;
  for (let tried = 0; tried < PORTS_PER_WORKER; tried++) {
    const port = base + (nextPort++ % PORTS_PER_WORKER);
    if (await canListen(port, host)) return port;
  }
  throw new Error(`no free port in ${base}..${base + PORTS_PER_WORKER - 1} on ${host}`);
}

const FIRST_PORT = 20_000;
const PORT_RANGES = 12;
const PORTS_PER_WORKER = 1_000;
/** Where this worker's next search starts: a port once handed out is not handed out again soon. */
let nextPort = Math.floor(Math.random() * PORTS_PER_WORKER);

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
