import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { expect } from 'vitest';
import { readResponse } from './http.js';

export type FailureKind = 'refused' | 'reset' | 'timeout' | '5xx' | 'other';

export interface LoadStats {
  requests: number;
  ok: number;
  /**
   * Requests the server provably never processed and the client sent again, as the protocol
   * allows: HTTP/2 streams refused after a GOAWAY, line requests answered with BYE. Never counted
   * as ok or failed by themselves; the retry is.
   */
  retried: number;
  failures: Record<FailureKind, number>;
  failureSamples: string[];
  pids: Map<number, number>;
}

export interface LoadOptions {
  port?: number;
  socketPath?: string;
  connections: number;
  /** Random pause between a response and the next request, [min, max] ms. */
  thinkMs?: [number, number];
  path?: string;
  timeoutMs?: number;
}

/** The fixtures' self-signed certificate, trusted by the TLS clients. */
const CA = readFileSync(new URL('../fixtures/cert.pem', import.meta.url));

export function classify(error: NodeJS.ErrnoException): FailureKind {
  if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') return 'refused';
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE' || error.message === 'socket hang up')
    return 'reset';
  if (error.code === 'ETIMEDOUT' || error.message === 'timeout') return 'timeout';
  return 'other';
}

class Retry {}
/** Thrown inside a request attempt to send the same request again (see LoadStats.retried). */
const RETRY = new Retry();

/**
 * `connections` client loops on loopback, each sending one request after another until stop()
 * is called (tests always call it, so the load is bounded). Subclasses speak the protocol.
 */
/** Stops `load`, asserts that no request failed and every one was answered ok, returns its stats. */
export async function stopAllOk(load: Load): Promise<LoadStats> {
  const stats = await load.stop();
  expect(stats.failureSamples).toEqual([]);
  expect(stats.ok).toBe(stats.requests);
  return stats;
}

export abstract class Load {
  readonly stats: LoadStats = {
    requests: 0,
    ok: 0,
    retried: 0,
    failures: { refused: 0, reset: 0, timeout: 0, '5xx': 0, other: 0 },
    failureSamples: [],
    pids: new Map(),
  };
  /** The connection slots answered at least once: each has connected (and, kept alive, stays). */
  readonly answeredSlots = new Set<number>();
  protected running = true;
  private loops: Promise<void>[] = [];

  constructor(protected readonly options: LoadOptions) {}

  /** Starts the client loops; called by each subclass once it is set up. */
  protected start(): void {
    this.loops = Array.from({ length: this.options.connections }, (_, slot) => this.loop(slot));
  }

  get failed(): number {
    return Object.values(this.stats.failures).reduce((a, b) => a + b, 0);
  }

  /** One request on connection `slot`: resolves with the response body or rejects. */
  protected abstract attempt(slot: number): Promise<{ status: number; body: string }>;

  private async loop(slot: number): Promise<void> {
    while (this.running) {
      await this.request(slot);
      const think = this.options.thinkMs;
      if (think && this.running)
        await new Promise((r) => setTimeout(r, think[0] + Math.random() * (think[1] - think[0])));
    }
  }

  private async request(slot: number): Promise<void> {
    this.stats.requests++;
    for (;;) {
      try {
        const { status, body } = await this.attempt(slot);
        if (status >= 500) return this.fail('5xx', `${status} ${body.slice(0, 80)}`);
        this.stats.ok++;
        this.answeredSlots.add(slot);
        const pid = Number(/pid=(\d+)/.exec(body)?.[1]);
        if (pid) this.stats.pids.set(pid, (this.stats.pids.get(pid) ?? 0) + 1);
        return;
      } catch (error) {
        if (error === RETRY) {
          this.stats.retried++;
          continue;
        }
        const e = error as NodeJS.ErrnoException;
        return this.fail(classify(e), `${e.code ?? ''} ${e.message}`);
      }
    }
  }

  private fail(kind: FailureKind, detail: string): void {
    this.stats.failures[kind]++;
    if (this.stats.failureSamples.length < 20) this.stats.failureSamples.push(`${kind}: ${detail}`);
  }

  async stop(): Promise<LoadStats> {
    this.running = false;
    await Promise.all(this.loops);
    this.close();
    return this.stats;
  }

  protected abstract close(): void;
}

/**
 * HTTP/1.1 over TCP, TLS or a Unix socket, with or without keep-alive. Each connection slot is
 * its own client (its own agent holding at most one socket), like separate users: a shared pool
 * would hand the busiest socket to every loop and leave the others idle.
 */
export class HttpLoad extends Load {
  private readonly agents: http.Agent[];

  constructor(options: LoadOptions & { keepAlive: boolean; tls?: boolean }) {
    super(options);
    // Configured like node's http.globalAgent (keep-alive, 5 s free-socket timeout), which is
    // also what makes it honour the server's `Keep-Alive: timeout` hint.
    const agentOptions = { keepAlive: options.keepAlive, maxSockets: 1, timeout: 5000 };
    this.agents = Array.from({ length: options.connections }, () =>
      options.tls ? new https.Agent({ ...agentOptions, ca: CA }) : new http.Agent(agentOptions),
    );
    this.tls = options.tls ?? false;
    this.start();
  }

  private readonly tls: boolean;

  protected attempt(slot: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const get = this.tls ? https.get : http.get;
      const req = get(
        {
          agent: this.agents[slot],
          path: this.options.path ?? '/',
          ...(this.options.socketPath
            ? { socketPath: this.options.socketPath }
            : { host: '127.0.0.1', port: this.options.port }),
          timeout: this.options.timeoutMs ?? 10_000,
        },
        (res) => readResponse(res).then(resolve, reject),
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
  }

  protected close(): void {
    for (const agent of this.agents) agent.destroy();
  }
}

/**
 * HTTP/2 (h2c or TLS): one session per connection slot. A session that received GOAWAY is
 * replaced by a new one; a stream the server refused (REFUSED_STREAM, numbered after the GOAWAY's
 * last stream id) was never processed and is sent again, as RFC 9113 section 8.7 allows.
 */
export class Http2Load extends Load {
  private readonly sessions: Array<http2.ClientHttp2Session | undefined> = [];

  constructor(options: LoadOptions & { tls?: boolean }) {
    super(options);
    this.authority = `${options.tls ? 'https' : 'http'}://127.0.0.1:${options.port}`;
    this.tls = options.tls ?? false;
    this.start();
  }

  private readonly authority: string;
  private readonly tls: boolean;

  private session(slot: number): http2.ClientHttp2Session {
    const current = this.sessions[slot];
    if (current && !current.closed && !current.destroyed) return current;
    const session = http2.connect(this.authority, this.tls ? { ca: CA } : {});
    session.on('error', () => {});
    this.sessions[slot] = session;
    return session;
  }

  protected attempt(slot: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const stream = this.session(slot).request({ ':path': this.options.path ?? '/' });
      let status = 0;
      let body = '';
      stream.setEncoding('utf8');
      stream.setTimeout(this.options.timeoutMs ?? 10_000, () =>
        stream.destroy(new Error('timeout')),
      );
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.on('data', (chunk: string) => {
        body += chunk;
      });
      stream.on('end', () => resolve({ status, body }));
      stream.on('error', (error: NodeJS.ErrnoException) => {
        if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) reject(RETRY);
        else reject(error);
      });
    });
  }

  protected close(): void {
    for (const session of this.sessions) session?.close();
  }
}

/**
 * The fixtures' line protocol over raw TCP (or an upgraded HTTP connection when `upgrade` is
 * set): "GET /path\n" gets one line back. "BYE" from the server means "nothing after my last
 * answer was processed": the client reconnects and sends its request again.
 */
export class LineLoad extends Load {
  private readonly sockets: Array<LineConnection | undefined> = [];

  constructor(options: LoadOptions & { upgrade?: boolean }) {
    super(options);
    this.upgrade = options.upgrade ?? false;
    this.start();
  }

  private readonly upgrade: boolean;

  private async connection(slot: number): Promise<LineConnection> {
    const current = this.sockets[slot];
    if (current?.usable) return current;
    const connection = await LineConnection.open(this.options.port as number, this.upgrade);
    this.sockets[slot] = connection;
    return connection;
  }

  protected async attempt(slot: number): Promise<{ status: number; body: string }> {
    const connection = await this.connection(slot);
    const line = await connection.ask(`GET ${this.options.path ?? '/'}`);
    if (line === 'BYE') throw RETRY;
    return { status: 200, body: line };
  }

  protected close(): void {
    for (const connection of this.sockets) connection?.socket.destroy();
  }
}

/** One line-protocol connection; `lines` receives every line the server sends. */
export class LineConnection {
  private buffer = '';
  private pending: { resolve: (line: string) => void; reject: (e: Error) => void } | undefined;
  private saidBye = false;
  readonly lines: string[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (error) => this.pending?.reject(error));
    socket.on('close', () => {
      const error: NodeJS.ErrnoException = new Error('connection closed before an answer');
      error.code = 'ECONNRESET';
      this.pending?.reject(error);
    });
  }

  static open(port: number, upgrade: boolean): Promise<LineConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('error', reject);
      socket.once('connect', () => {
        if (!upgrade) {
          socket.off('error', reject);
          return resolve(new LineConnection(socket));
        }
        socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: line\r\n\r\n');
        // Closed before the server's answer: a failure to count, not an answer to wait for.
        socket.once('close', () =>
          reject(new Error('connection closed before the upgrade answer')),
        );
        let head = '';
        const onData = (chunk: Buffer) => {
          head += chunk.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          socket.off('data', onData);
          socket.off('error', reject);
          if (!head.startsWith('HTTP/1.1 101')) {
            socket.destroy();
            return reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
          }
          const connection = new LineConnection(socket);
          const rest = head.slice(end + 4);
          if (rest) connection.onData(rest);
          resolve(connection);
        };
        socket.on('data', onData);
      });
    });
  }

  get usable(): boolean {
    return !this.saidBye && !this.socket.destroyed && !this.socket.readableEnded;
  }

  /** Waits for the next line the server sends. */
  next(): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
    });
  }

  ask(line: string): Promise<string> {
    this.socket.write(`${line}\n`);
    return this.next();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (let i = this.buffer.indexOf('\n'); i >= 0; i = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 1);
      if (line === 'BYE') {
        this.saidBye = true;
        this.socket.end();
      }
      const pending = this.pending;
      this.pending = undefined;
      if (pending) pending.resolve(line);
      else this.lines.push(line);
    }
  }
}
