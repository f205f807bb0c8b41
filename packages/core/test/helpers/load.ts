import http from 'node:http';

export type FailureKind = 'refused' | 'reset' | 'timeout' | '5xx' | 'other';

export interface LoadStats {
  requests: number;
  ok: number;
  failures: Record<FailureKind, number>;
  failureSamples: string[];
  pids: Map<number, number>;
}

export interface LoadOptions {
  port?: number;
  socketPath?: string;
  connections: number;
  keepAlive: boolean;
  /** Random pause between a response and the next request, [min, max] ms. */
  thinkMs?: [number, number];
  path?: string;
  timeoutMs?: number;
}

export function classify(error: NodeJS.ErrnoException): FailureKind {
  if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') return 'refused';
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE' || error.message === 'socket hang up')
    return 'reset';
  if (error.code === 'ETIMEDOUT' || error.message === 'timeout') return 'timeout';
  return 'other';
}

/**
 * Real HTTP/1.1 clients on loopback: `connections` loops, each sending GET requests one after
 * another until stop() is called. Bounded: stop() is always called by the test.
 */
export class HttpLoad {
  readonly stats: LoadStats = {
    requests: 0,
    ok: 0,
    failures: { refused: 0, reset: 0, timeout: 0, '5xx': 0, other: 0 },
    failureSamples: [],
    pids: new Map(),
  };
  private running = true;
  private readonly agent: http.Agent;
  private readonly loops: Promise<void>[];

  constructor(private readonly options: LoadOptions) {
    this.agent = new http.Agent({ keepAlive: options.keepAlive, maxSockets: options.connections });
    this.loops = Array.from({ length: options.connections }, () => this.loop());
  }

  get failed(): number {
    return Object.values(this.stats.failures).reduce((a, b) => a + b, 0);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      await this.once();
      const think = this.options.thinkMs;
      if (think && this.running)
        await new Promise((r) => setTimeout(r, think[0] + Math.random() * (think[1] - think[0])));
    }
  }

  private once(): Promise<void> {
    return new Promise((resolve) => {
      this.stats.requests++;
      const fail = (kind: FailureKind, detail: string) => {
        this.stats.failures[kind]++;
        if (this.stats.failureSamples.length < 20)
          this.stats.failureSamples.push(`${kind}: ${detail}`);
        resolve();
      };
      const req = http.get(
        {
          agent: this.agent,
          path: this.options.path ?? '/',
          ...(this.options.socketPath
            ? { socketPath: this.options.socketPath }
            : { host: '127.0.0.1', port: this.options.port }),
          timeout: this.options.timeoutMs ?? 10_000,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => {
            if ((res.statusCode ?? 0) >= 500)
              return fail('5xx', `${res.statusCode} ${body.slice(0, 80)}`);
            this.stats.ok++;
            const pid = Number(/pid=(\d+)/.exec(body)?.[1]);
            if (pid) this.stats.pids.set(pid, (this.stats.pids.get(pid) ?? 0) + 1);
            resolve();
          });
          res.on('error', (error) => fail(classify(error), error.message));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error: NodeJS.ErrnoException) =>
        fail(classify(error), `${error.code ?? ''} ${error.message}`),
      );
    });
  }

  async stop(): Promise<LoadStats> {
    this.running = false;
    await Promise.all(this.loops);
    this.agent.destroy();
    return this.stats;
  }
}
