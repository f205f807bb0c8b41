import net from 'node:net';
import { acceptQueue, waitUntil } from './process.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One HTTP/1.1 connection kept open on purpose: every request goes over this very socket, so a
 * test can ask a specific generation something while it drains.
 */
export class RawHttpConnection {
  private buffer = '';
  private waiting: ((response: RawResponse) => void) | undefined;
  private failed: ((error: Error) => void) | undefined;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.parse();
    });
    socket.on('error', (error) => this.failed?.(error));
    socket.on('close', () => this.failed?.(new Error('connection closed before a response')));
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawHttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host, () => resolve(new RawHttpConnection(socket)));
      socket.once('error', reject);
    });
  }

  get(path: string): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failed = reject;
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    });
  }

  private parse(): void {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0 || !this.waiting) return;
    const [statusLine = '', ...lines] = this.buffer.slice(0, end).split('\r\n');
    const headers = Object.fromEntries(
      lines.map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
      }),
    );
    let body: string;
    let rest: string;
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const decoded = decodeChunked(this.buffer.slice(end + 4));
      if (!decoded) return;
      [body, rest] = decoded;
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (this.buffer.length < end + 4 + length) return;
      body = this.buffer.slice(end + 4, end + 4 + length);
      rest = this.buffer.slice(end + 4 + length);
    }
    this.buffer = rest;
    const resolve = this.waiting;
    this.waiting = undefined;
    this.failed = undefined;
    resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A chunked body and what follows it, or undefined until all of it has arrived. */
function decodeChunked(data: string): [string, string] | undefined {
  let body = '';
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(data.slice(at, lineEnd), 16);
    if (Number.isNaN(size)) throw new Error(`bad chunk size line: ${data.slice(at, lineEnd)}`);
    const start = lineEnd + 2;
    if (size === 0) {
      // No trailers expected: the last chunk ends with an empty line.
      if (data.length < start + 2) return undefined;
      return [body, data.slice(start + 2)];
    }
    if (data.length < start + size + 2) return undefined;
    body += data.slice(start, start + size);
    at = start + size + 2;
  }
}

/**
 * GET `path` on a connection of its own to 127.0.0.1:`port`, resolved once the server has
 * accepted that connection (nothing waits in the listener's accept queue): from then on the
 * request is the server's, in flight, whatever the test does next. Closing a listener resets
 * the connections still in its queue, so a test that stops a server right after sending a
 * request sends it this way, not with a sleep. `answer` settles with the response.
 */
export async function requestInFlight(
  port: number,
  path: string,
): Promise<{ answer: Promise<RawResponse> }> {
  const connection = await RawHttpConnection.open(port);
  const answer = connection.get(path);
  // Awaited by the caller; not an unhandled rejection meanwhile.
  answer.catch(() => undefined);
  if (!(await waitUntil(() => acceptQueue(port) === 0, 5000))) {
    throw new Error(`port ${port}: connections still wait to be accepted after 5 s`);
  }
  return { answer };
}
