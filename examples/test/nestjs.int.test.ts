// examples/nestjs: Nest's shutdown hooks run once per generation, after its last request, and
// Nest does not handle the signals itself (graceful's onShutdown calls app.close()).
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../../packages/core/test/helpers/http.js';
import {
  type Fixture,
  isAlive,
  sleep,
  waitForExit,
  waitUntil,
} from '../../packages/core/test/helpers/process.js';
import { endAll, restart, startOnFreePort } from './examples.js';

afterEach(endAll);

/** The times at which pid's onApplicationShutdown ran, from the example's own log line. */
function shutdownHookRuns(f: Fixture, pid: number): number[] {
  return f.stdout.flatMap((line) => {
    const match = /example-nestjs pid=(\d+) onApplicationShutdown at (\d+)/.exec(line);
    return match && Number(match[1]) === pid ? [Number(match[2])] : [];
  });
}

/** GET /slow?ms=N on a connection of its own; resolves with the answer and when it ended. */
function slow(endpoint: Endpoint, ms: number) {
  return new Promise<{ status: number; body: string; endedAt: number }>((resolve, reject) => {
    const req = http.get({ ...endpoint, path: `/slow?ms=${ms}`, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, endedAt: Date.now() }));
    });
    req.on('error', reject);
  });
}

describe('examples/nestjs: Nest shutdown hooks', () => {
  it('SIGTERM: onApplicationShutdown runs once, after the request in flight is answered, and the process exits 0', async () => {
    const { f, endpoint } = await startOnFreePort('nestjs');
    const pid = f.first.pid as number;
    const inFlight = slow(endpoint, 1500);
    await sleep(200);
    process.kill(pid, 'SIGTERM');
    await sleep(800);
    // Nest's hooks wait for the drain: none has run while the request is in flight.
    expect(shutdownHookRuns(f, pid)).toEqual([]);
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body).toContain(`pid=${pid}`);
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
    await waitUntil(() => shutdownHookRuns(f, pid).length > 0, 5000);
    const runs = shutdownHookRuns(f, pid);
    expect(runs).toHaveLength(1);
    // After the last answer (the two clocks are this machine's; a few ms for the client's read).
    expect(runs[0]).toBeGreaterThanOrEqual(answer.endedAt - 50);
    // Nobody else handled the signal (Nest's enableShutdownHooks would be reported).
    expect([...f.stdout, ...f.stderr].join('\n')).not.toContain('other listener(s)');
  });

  it('SIGHUP: each generation runs onApplicationShutdown once, after its own last request; the successor serves meanwhile', async () => {
    const { f, endpoint } = await startOnFreePort('nestjs');
    const first = f.first.pid as number;
    const inFlight = slow(endpoint, 1500);
    await sleep(200);
    const second = await restart(f, endpoint, first);
    await sleep(500);
    expect(shutdownHookRuns(f, first)).toEqual([]);
    const answer = await inFlight;
    expect(answer.body).toContain(`pid=${first}`);
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
    await waitUntil(() => shutdownHookRuns(f, first).length > 0, 5000);
    const firstRuns = shutdownHookRuns(f, first);
    expect(firstRuns).toHaveLength(1);
    expect(firstRuns[0]).toBeGreaterThanOrEqual(answer.endedAt - 50);
    // The successor's hooks have not run: it serves.
    expect(shutdownHookRuns(f, second)).toEqual([]);

    const secondInFlight = slow(endpoint, 1000);
    await sleep(200);
    process.kill(second, 'SIGTERM');
    const secondAnswer = await secondInFlight;
    expect(secondAnswer.body).toContain(`pid=${second}`);
    expect(await waitUntil(() => !isAlive(second), 10_000)).toBe(true);
    // Its last line may still be in the pipe when it has exited.
    await waitUntil(() => shutdownHookRuns(f, second).length > 0, 5000);
    const secondRuns = shutdownHookRuns(f, second);
    expect(secondRuns).toHaveLength(1);
    expect(secondRuns[0]).toBeGreaterThanOrEqual(secondAnswer.endedAt - 50);
  });
});
