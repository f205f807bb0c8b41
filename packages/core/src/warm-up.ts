/**
 * A successor that starts warm: before it says ready, a generation sends the paths the app names
 * through its own servers' request handlers, over in-memory connections (no socket, no port: the
 * inherited listener is shared with the generation still serving). The clients the drain moves
 * over once it is ready then meet code the JIT has seen, not a cold handler.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Server as NetServer } from 'node:net';
import { Duplex } from 'node:stream';
import { DEFAULTS } from './defaults.js';
import type { Logger } from './logger.js';
import type { WarmUpSetting } from './warm-up-setting.js';

/** Every warm-up request carries it: an app can leave such requests out of metrics and logs. */
export const WARM_UP_HEADER = 'x-graceful-warm-up';
/** Requests in flight at once, per server. */
const CONCURRENCY = 4;

interface WarmUpResult {
  /** The node:http(s) servers warmed (HTTP/2 and raw net servers are not). */
  servers: number;
  requests: number;
  ms: number;
  /** Answers outside 2xx and 3xx, and requests cut at the time limit, by path. */
  failures: Array<{ path: string; status: number | 'cut' }>;
}

/** Requests each path `setting.requests` times through every node:http(s) server; never throws. */
export async function warmUp(servers: NetServer[], setting: WarmUpSetting): Promise<WarmUpResult> {
  const started = performance.now();
  const failures: WarmUpResult['failures'] = [];
  const targets = servers.filter((s) => s instanceof http.Server || s instanceof https.Server);
  const stop = AbortSignal.timeout(DEFAULTS.warmUpLimitMs);
  let requests = 0;
  for (const server of targets) {
    const queue = setting.paths.flatMap((path) =>
      Array.from({ length: setting.requests }, () => path),
    );
    const worker = async () => {
      for (let path = queue.shift(); path !== undefined && !stop.aborted; path = queue.shift()) {
        const status = await requestInProcess(server as http.Server, path, stop);
        requests++;
        if (status === 'cut' || status < 200 || status >= 400) failures.push({ path, status });
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  }
  return {
    servers: targets.length,
    requests,
    ms: Math.round(performance.now() - started),
    failures,
  };
}

/** The warm-up's line in the log: a warning when a path did not answer 2xx/3xx. */
export function logWarmUp(logger: Logger, setting: WarmUpSetting, result: WarmUpResult): void {
  if (result.servers === 0) {
    logger.warn(
      'warm-up: no node:http or https server listens through this generation; HTTP/2 and raw net servers are not warmed up.',
    );
    return;
  }
  const what = `${result.requests} request(s) to ${setting.paths.join(', ')} in ${result.ms} ms`;
  if (result.failures.length === 0) {
    logger.info(`warmed up: ${what}`);
    return;
  }
  const seen = new Map<string, string>();
  for (const { path, status } of result.failures) seen.set(path, String(status));
  const list = [...seen].map(([path, status]) => `${path} (${status})`).join(', ');
  logger.warn(
    `warm-up: ${what}; ${result.failures.length} did not answer 2xx/3xx: ${list}. Name paths that answer a GET without side effects (warmUp.paths, GRACEFUL_RESTART_WARM_UP). Ready goes on.`,
  );
}

/** One GET through `server`'s handlers on an in-memory connection: its status, or 'cut'. */
function requestInProcess(
  server: http.Server,
  path: string,
  stop: AbortSignal,
): Promise<number | 'cut'> {
  return new Promise((resolve) => {
    let head = '';
    const connection = new Duplex({
      read() {},
      write(chunk: Buffer | string, _encoding, done) {
        if (head.length < 16) head += chunk.toString('latin1');
        done();
      },
      final(done) {
        done();
        this.push(null);
      },
    });
    // What apps read of a client's socket (logs, rate limits keyed by address): this process.
    Object.assign(connection, { remoteAddress: '127.0.0.1', remoteFamily: 'IPv4', remotePort: 0 });
    const onStop = () => connection.destroy();
    stop.addEventListener('abort', onStop, { once: true });
    connection.once('close', () => {
      stop.removeEventListener('abort', onStop);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
      resolve(status === undefined ? 'cut' : Number(status));
    });
    // https: node's HTTP handling sits on the TLS server's 'secureConnection'.
    server.emit(server instanceof https.Server ? 'secureConnection' : 'connection', connection);
    connection.push(
      `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${WARM_UP_HEADER}: 1\r\n\r\n`,
    );
  });
}
