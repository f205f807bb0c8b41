import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { Http2Load, HttpLoad, LineConnection, LineLoad, type Load } from './helpers/load.js';
import {
  Fixture,
  type FixtureEvent,
  isAlive,
  liveChildren,
  poll,
  sleep,
  waitForExit,
  waitUntil,
} from './helpers/process.js';
import { requestInFlight } from './helpers/raw-http.js';

const SERVER = new URL('./fixtures/server.mjs', import.meta.url).pathname;
const SLOW_HELPER = new URL('./fixtures/slow-helper.cjs', import.meta.url).pathname;
const RESTARTS = 10;

function start(env: Record<string, string> = {}) {
  return new Fixture(SERVER, env);
}

function portOf(ready: FixtureEvent): number {
  return (ready['listeners'] as Array<{ port: number }>)[0]?.port as number;
}

function drainedReport(f: Fixture, pid: number, timeoutMs = 15_000) {
  return f.waitFor((e) => e.event === 'drained' && e.pid === pid, timeoutMs);
}

interface Scenario {
  name: string;
  protocol: 'http' | 'https' | 'http2' | 'http2-secure' | 'net';
  load: (port: number) => Load;
  /** Raw and upgraded connections are closed by the app's closeConnection hook. */
  closeKind?: 'raw' | 'upgraded';
  /**
   * The clients honour the advertised `Keep-Alive: timeout` and drop idle sockets before the
   * idle grace: the server never has to close one, so no request can race an idle close.
   */
  noIdleCloses?: boolean;
}

const scenarios: Scenario[] = [
  {
    name: 'http: 50 busy keep-alive clients',
    protocol: 'http',
    load: (port) => new HttpLoad({ port, connections: 50, keepAlive: true }),
  },
  {
    name: 'http: 50 keep-alive clients thinking 0-2 s between requests',
    protocol: 'http',
    load: (port) => new HttpLoad({ port, connections: 50, keepAlive: true, thinkMs: [0, 2000] }),
    noIdleCloses: true,
  },
  {
    name: 'http: 20 clients without keep-alive',
    protocol: 'http',
    load: (port) => new HttpLoad({ port, connections: 20, keepAlive: false }),
  },
  {
    name: 'https: 20 busy keep-alive clients',
    protocol: 'https',
    load: (port) => new HttpLoad({ port, connections: 20, keepAlive: true, tls: true }),
  },
  {
    name: 'http2 (h2c): 20 busy sessions',
    protocol: 'http2',
    load: (port) => new Http2Load({ port, connections: 20 }),
  },
  {
    name: 'http2 over TLS: 20 busy sessions',
    protocol: 'http2-secure',
    load: (port) => new Http2Load({ port, connections: 20, tls: true }),
  },
  {
    name: 'net: 20 raw line-protocol connections, closed by the closeConnection hook',
    protocol: 'net',
    load: (port) => new LineLoad({ port, connections: 20 }),
    closeKind: 'raw',
  },
  {
    name: 'http: 20 upgraded connections, closed by the closeConnection hook',
    protocol: 'http',
    load: (port) => new LineLoad({ port, connections: 20, upgrade: true }),
    closeKind: 'upgraded',
  },
];

describe.each(scenarios)('drain under load: $name', (scenario) => {
  it(`${RESTARTS} restarts: 0 client errors, every old generation drains cleanly and exits`, async () => {
    const f = start({ FIXTURE_PROTOCOL: scenario.protocol });
    const first = await f.waitFor((e) => e.event === 'ready');
    const load = scenario.load(portOf(first));
    await sleep(300);
    const generations = [first.pid];
    for (let i = 0; i < RESTARTS; i++) {
      const next = await f.restart(generations.at(-1) as number);
      generations.push(next.pid);
      await sleep(150);
    }
    await sleep(300);
    const stats = await load.stop();
    const old = generations.slice(0, -1);
    const reports = await Promise.all(old.map((pid) => drainedReport(f, pid)));

    expect(stats.failureSamples).toEqual([]);
    expect(stats.ok).toBe(stats.requests);
    expect(stats.ok).toBeGreaterThan(RESTARTS * 10);
    // The newest generation answered, and so did most of the ones before it.
    expect(stats.pids.get(generations.at(-1) as number)).toBeGreaterThan(0);
    expect(generations.filter((pid) => stats.pids.has(pid)).length).toBeGreaterThan(RESTARTS / 2);
    for (const report of reports) {
      expect(report['deadlineReached']).toBe(false);
      expect(report['requestsCutAtDeadline']).toBe(0);
      if (scenario.noIdleCloses) expect(report['socketsClosedIdle']).toBe(0);
    }
    expect(await waitUntil(() => old.every((pid) => !isAlive(pid)), 5000)).toBe(true);
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
    if (scenario.closeKind) {
      const hooked = f.events.filter((e) => e.event === 'close-connection');
      expect(hooked.length).toBeGreaterThan(0);
      expect(new Set(hooked.map((e) => e['kind']))).toEqual(new Set([scenario.closeKind]));
    }
  });
});

describe('drain timing and report', () => {
  it('an old generation with no open connection exits right after the handover', async () => {
    const f = start({ FIXTURE_OPTIONS: JSON.stringify({ drain: { idleGraceMs: 5000 } }) });
    const first = await f.waitFor((e) => e.event === 'ready');
    await f.restart(first.pid);
    const report = await drainedReport(f, first.pid);
    expect(report['socketsAtStart']).toBe(0);
    expect(report['socketsClosedIdle']).toBe(0);
    // Far below the 5 s idle grace: nothing was waited for.
    expect(report['durationMs'] as number).toBeLessThan(1000);
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
  });

  it('only idle keep-alive clients: they are closed after the idle grace, not keepAliveTimeout or the deadline', async () => {
    const idleGraceMs = 500;
    const f = start({ FIXTURE_OPTIONS: JSON.stringify({ drain: { idleGraceMs } }) });
    const first = await f.waitFor((e) => e.event === 'ready');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
    const closed: number[] = [];
    // Ten keep-alive sockets, each with one request answered, then left idle in the pool.
    await Promise.all(
      Array.from({ length: 10 }, () => get(agent, portOf(first), '/slow?ms=50', closed)),
    );
    expect(Object.values(agent.freeSockets).flat()).toHaveLength(10);
    const restartedAt = performance.now();
    await f.restart(first.pid);
    const report = await drainedReport(f, first.pid);
    const exit = await waitForExit(f.first);
    const exitedAfter = performance.now() - restartedAt;
    agent.destroy();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(report['socketsAtStart']).toBe(10);
    expect(report['socketsClosedIdle']).toBe(10);
    expect(report['deadlineReached']).toBe(false);
    expect(closed).toHaveLength(10);
    // node's keepAliveTimeout is 5 s and the deadline 8 s; the idle grace ends it long before.
    expect(report['durationMs'] as number).toBeLessThan(idleGraceMs + 1000);
    expect(exitedAfter).toBeLessThan(5000);
  });

  it('a request longer than the deadline is cut at the deadline: counted, listed by method and path in the report and the log', async () => {
    const f = start({
      FIXTURE_DEBUG: '1',
      FIXTURE_OPTIONS: JSON.stringify({ drain: { deadlineMs: 1000, idleGraceMs: 200 } }),
    });
    const first = await f.waitFor((e) => e.event === 'ready');
    const port = portOf(first);
    const slow = fetch(`http://127.0.0.1:${port}/slow?ms=5000&token=s3cret`).then(
      (r) => r.text(),
      (error: Error) => error,
    );
    await sleep(100);
    await f.restart(first.pid);
    const report = await drainedReport(f, first.pid);
    expect(report).toMatchObject({
      deadlineReached: true,
      requestsCutAtDeadline: 1,
      socketsForced: 1,
      cutNotListed: 0,
    });
    // What was cut, by method and path: the query string (it may carry secrets) left out.
    const cut = report['cut'] as { kind: string; method: string; path: string; ageMs: number }[];
    expect(cut).toEqual([
      { kind: 'request', method: 'GET', path: '/slow', ageMs: expect.any(Number) },
    ]);
    expect(cut[0]?.ageMs).toBeGreaterThanOrEqual(900);
    const logged = await poll(
      async () => f.stderr.find((l) => l.includes('the drain deadline cut:')),
      5000,
    );
    expect(logged).toContain('GET /slow (request,');
    expect(f.stderr.join('\n')).not.toContain('s3cret');
    expect(report['durationMs'] as number).toBeGreaterThanOrEqual(990);
    expect(await slow).toBeInstanceOf(Error);
    // Forced: exit code 1, so a supervisor can tell a cut drain from a clean one.
    expect(await waitForExit(f.first)).toEqual({ code: 1, signal: null });
  });

  it('SIGTERM under load: in-flight requests complete, exit code 0, cleanup runs once after the connections are gone', async () => {
    const f = start();
    const first = await f.waitFor((e) => e.event === 'ready');
    const port = portOf(first);
    const load = new HttpLoad({ port, connections: 20, keepAlive: true });
    const slow = await Promise.all(
      Array.from({ length: 5 }, () => requestInFlight(port, '/slow?ms=800')),
    );
    process.kill(first.pid, 'SIGTERM');
    const results = await Promise.all(
      slow.map(({ answer }) => answer.then(({ status, body }) => [status, body])),
    );
    const exit = await waitForExit(f.first);
    const stats = await load.stop();
    expect(results).toEqual(
      Array.from({ length: 5 }, () => [200, `pid=${first.pid} path=/slow\n`]),
    );
    expect(exit).toEqual({ code: 0, signal: null });
    const cleanups = f.events.filter((e) => e.event === 'cleanup');
    expect(cleanups).toHaveLength(1);
    expect(cleanups[0]?.['openConnections']).toBe(0);
    const report = await drainedReport(f, first.pid);
    expect(report['requestsCompleted'] as number).toBeGreaterThanOrEqual(5 + 20);
    expect(report['deadlineReached']).toBe(false);
    // Keep-alive clients were answered during the drain: nothing was reset mid-response.
    expect(stats.failures.reset).toBe(0);
    expect(stats.failures['5xx']).toBe(0);
  });

  it('SIGTERM while the rollback duplicates are still being taken: the helper goes at once, no connection is reset', async () => {
    // The helper that passes the duplicates back boots a node process (40 ms and more, Node 24
    // on an idle machine); made 500 ms slower, it still holds the listening socket when the
    // signal comes.
    const f = start({ NODE_OPTIONS: `--require ${SLOW_HELPER}` });
    const first = await f.waitFor((e) => e.event === 'ready');
    const port = portOf(first);
    const load = new HttpLoad({ port, connections: 20, keepAlive: true });
    // Every client connected and answered first: no connect races the listener's close (one
    // still in its accept queue then would be reset, whatever the helper does).
    const allAnswered = () => load.answeredSlots.size === 20 && load.stats.ok >= 40;
    expect(await waitUntil(allAnswered, 1000, 1)).toBe(true);
    expect(liveChildren(first.pid).length).toBeGreaterThan(0);
    process.kill(first.pid, 'SIGTERM');
    const exit = await waitForExit(f.first);
    const stats = await load.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    // Clients told to close reconnect: refused once the port is closed, never queued on a
    // socket the helper kept listening and then reset when it went.
    expect(stats.failures.reset).toBe(0);
    expect(stats.failures['5xx']).toBe(0);
  });

  it('without a closeConnection hook a raw connection stays open until the deadline destroys it', async () => {
    const f = start({
      FIXTURE_PROTOCOL: 'net',
      FIXTURE_POLITE: '0',
      FIXTURE_OPTIONS: JSON.stringify({ drain: { deadlineMs: 800 } }),
    });
    const first = await f.waitFor((e) => e.event === 'ready');
    const connection = await LineConnection.open(portOf(first), false);
    expect(await connection.ask('GET /')).toBe(`pid=${first.pid} path=/`);
    await f.restart(first.pid);
    const report = await drainedReport(f, first.pid);
    expect(report).toMatchObject({ deadlineReached: true, socketsForced: 1 });
    expect(await waitForExit(f.first)).toEqual({ code: 1, signal: null });
    expect(await waitUntil(() => connection.socket.destroyed, 2000)).toBe(true);
  });

  it('with a closeConnection hook an idle raw connection gets the goodbye and the drain ends at once', async () => {
    const f = start({
      FIXTURE_PROTOCOL: 'net',
      FIXTURE_OPTIONS: JSON.stringify({ drain: { deadlineMs: 5000 } }),
    });
    const first = await f.waitFor((e) => e.event === 'ready');
    const connection = await LineConnection.open(portOf(first), false);
    expect(await connection.ask('GET /')).toBe(`pid=${first.pid} path=/`);
    await f.restart(first.pid);
    expect(await connection.next()).toBe('BYE');
    const report = await drainedReport(f, first.pid);
    expect(report).toMatchObject({ deadlineReached: false, socketsForced: 0 });
    expect(report['durationMs'] as number).toBeLessThan(1000);
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
  });
});

function get(agent: http.Agent, port: number, path: string, closed: number[]): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get({ agent, host: '127.0.0.1', port, path }, (res) => {
        res.socket.once('close', () => closed.push(Date.now()));
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
}

describe('paced drain (drain.paceMs)', () => {
  const CONNECTIONS = 30;
  it.each([
    ['paced (the default)', {}, true],
    ['paceMs: 0, every connection told at once', { paceMs: 0 }, false],
  ] as const)('%s: 30 busy keep-alive clients, 3 restarts, 0 failures', async (_, drain, paced) => {
    const f = start({ FIXTURE_OPTIONS: JSON.stringify({ drain }) });
    const first = await f.waitFor((e) => e.event === 'ready');
    const load = new HttpLoad({ port: portOf(first), connections: CONNECTIONS, keepAlive: true });
    await sleep(300);
    const generations = [first.pid];
    for (let i = 0; i < 3; i++) {
      generations.push((await f.restart(generations.at(-1) as number)).pid);
      await sleep(1500);
    }
    const stats = await load.stop();
    expect(stats.failureSamples).toEqual([]);
    for (const pid of generations.slice(0, -1)) {
      const report = await drainedReport(f, pid);
      expect(report['socketsAtStart']).toBeGreaterThanOrEqual(CONNECTIONS);
      expect(report['deadlineReached']).toBe(false);
      if (paced) {
        // Connections not yet released stay kept alive and keep being answered here while the
        // others move: many requests per connection during the drain.
        expect(report['requestsCompleted']).toBeGreaterThan(3 * CONNECTIONS);
      } else {
        // Each connection is told at once: its request in flight (or its next) is its last here.
        expect(report['requestsCompleted']).toBeLessThanOrEqual(CONNECTIONS);
      }
    }
  });
});
