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

/** A TCP port that was free a moment ago on `host`. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
