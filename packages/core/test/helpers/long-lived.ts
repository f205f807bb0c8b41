// Clients that stay connected across restarts, as real ones do: WebSockets (the `ws` library)
// and Server-Sent Events, each reconnecting when the server ends its connection, recording
// which pid served it, every close and every failure.
import http from 'node:http';
import { WebSocket } from 'ws';
import { pidIn } from './http.js';

export interface Close {
  code: number;
  /** The pid that closed it. */
  pid: number;
  at: number;
}

/** A WebSocket client on /ws that reconnects at once after each close (the storm's worst case). */
export class ReconnectingSocket {
  pid = 0;
  readonly closes: Close[] = [];
  readonly failures: string[] = [];
  private socket: WebSocket | undefined;
  private stopped = false;

  private constructor(private readonly port: number) {}

  /** Resolves once the first connection has said its pid. */
  static open(port: number): Promise<ReconnectingSocket> {
    const client = new ReconnectingSocket(port);
    return client.connect().then(() => client);
  }

  private connect(): Promise<void> {
    return new Promise((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${this.port}/ws`);
      this.socket = socket;
      socket.once('message', (data) => {
        this.pid = pidIn(String(data));
        resolve();
      });
      socket.once('error', (error) => this.failures.push(error.message));
      socket.once('close', (code) => {
        if (this.stopped) return resolve();
        this.closes.push({ code, pid: this.pid, at: performance.now() });
        // A failed connection closes too (1006): counted above, tried again a little later.
        const retryMs = code === 1006 ? 100 : 0;
        setTimeout(() => void this.connect().then(resolve), retryMs);
      });
    });
  }

  stop(): void {
    this.stopped = true;
    this.socket?.terminate();
  }
}

/** An SSE client on /events: reads events, and reconnects after `retry:` when a stream ends. */
export class ReconnectingEvents {
  /** `data` events as `pid=<pid> n=<k>`, and `restart` events, in order. */
  readonly events: { type: string; data: string }[] = [];
  readonly failures: string[] = [];
  /** Streams that ended cleanly (the server ended the response). */
  ended = 0;
  private retryMs = 1000;
  private request: http.ClientRequest | undefined;
  private stopped = false;

  constructor(private readonly port: number) {
    this.connect();
  }

  get lastPid(): number {
    const last = this.events.filter((e) => e.type === 'message').at(-1);
    return last ? pidIn(last.data) : 0;
  }

  private connect(): void {
    this.request = http.get(
      { host: '127.0.0.1', port: this.port, path: '/events', agent: false },
      (res) => {
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            this.parse(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        });
        res.on('end', () => {
          if (this.stopped) return;
          this.ended++;
          setTimeout(() => this.connect(), this.retryMs);
        });
        res.on('error', (error) => this.failures.push(error.message));
      },
    );
    this.request.on('error', (error) => {
      if (this.stopped) return;
      this.failures.push(error.message);
      setTimeout(() => this.connect(), this.retryMs);
    });
  }

  private parse(block: string): void {
    let type = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      const [field, ...rest] = line.split(':');
      const value = rest.join(':').trimStart();
      if (field === 'retry') this.retryMs = Number(value);
      else if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) this.events.push({ type, data: data.join('\n') });
  }

  stop(): void {
    this.stopped = true;
    this.request?.destroy();
  }
}

/** From the first of `times` to the last, in ms. */
export function spanMs(times: number[]): number {
  return times.length === 0 ? 0 : Math.max(...times) - Math.min(...times);
}
