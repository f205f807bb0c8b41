import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { keepAliveHintFor } from '../src/drain/node-http.js';
import { ConnectionTracker } from '../src/drain/tracker.js';

describe('keepAliveHintFor', () => {
  it.each([
    [500, undefined],
    [1000, undefined],
    [1499, undefined],
    [1500, 2],
    [2000, 2],
    [2500, 3],
    [10_000, 10],
  ])('idle grace %i ms -> Keep-Alive: timeout=%s', (grace, hint) => {
    expect(keepAliveHintFor(grace)).toBe(hint);
    // A client honouring the hint stops reusing a socket 1 s before it, at least 500 ms before
    // the grace: a drain never closes a socket such a client may still send on.
    if (hint !== undefined) expect((hint - 1) * 1000 + 500).toBeLessThanOrEqual(grace);
  });
});

describe('ConnectionTracker keep-alive hint (real server on 127.0.0.1)', () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    server = undefined;
  });

  async function headerWith(keepAliveTimeout: number, hintSeconds: number | undefined) {
    server = http.createServer((_req, res) => res.end('ok'));
    server.keepAliveTimeout = keepAliveTimeout;
    new ConnectionTracker(server, 'http', { keepAliveHintSeconds: hintSeconds });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const agent = new http.Agent({ keepAlive: true });
    const headers = await new Promise<http.IncomingHttpHeaders>((resolve, reject) =>
      http
        .get({ host: '127.0.0.1', port, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers));
        })
        .on('error', reject),
    );
    agent.destroy();
    return headers['keep-alive'];
  }

  it('advertises the hint when it is shorter than the server keepAliveTimeout', async () => {
    expect(await headerWith(5000, 2)).toBe('timeout=2');
  });

  it("leaves node's own header when the server already keeps sockets no longer", async () => {
    expect(await headerWith(2000, 2)).toBe('timeout=2');
    await new Promise((r) => server?.close(r));
    expect(await headerWith(1000, 2)).toBe('timeout=1');
  });

  it('changes nothing without a hint', async () => {
    expect(await headerWith(5000, undefined)).toBe('timeout=5');
  });
});

/**
 * Before a drain the tracker reads whether a socket is busy from node's `socket._httpMessage`
 * and advertises the hint through `res._keepAliveTimeout`. These run a real server with both
 * fields readable, and with `_keepAliveTimeout` hidden by a ServerResponse subclass (node's
 * `ServerResponse` option), as a node version without it would be: the tracker must then
 * follow every request and set the hint as a header.
 */
describe.each([
  ['node fields readable', false],
  ['a node without _keepAliveTimeout', true],
])('ConnectionTracker drain with %s (real server on 127.0.0.1)', (_name, hideField) => {
  let server: http.Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    server = undefined;
  });

  class WithoutKeepAliveField extends http.ServerResponse {
    get _keepAliveTimeout(): undefined {
      return undefined;
    }
    set _keepAliveTimeout(_ms: number) {}
  }

  it('waits for a request in flight at drain start that outlasts the idle grace, then closes the idle socket', async () => {
    const options = hideField
      ? { ServerResponse: WithoutKeepAliveField as unknown as typeof http.ServerResponse }
      : {};
    const created = http.createServer(options, (req, res) => {
      const ms = req.url === '/slow' ? 600 : 0;
      setTimeout(() => res.end('done'), ms);
    });
    server = created;
    const tracker = new ConnectionTracker(created, 'http', { keepAliveHintSeconds: 2 });
    await new Promise<void>((r) => created.listen(0, '127.0.0.1', r));
    const { port } = created.address() as AddressInfo;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    const get = (path: string) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
        (resolve, reject) =>
          http
            .get({ host: '127.0.0.1', port, path, agent }, (res) => {
              let body = '';
              res.on('data', (chunk) => (body += chunk));
              res.on('end', () =>
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
              );
            })
            .on('error', reject),
      );
    // Two keep-alive sockets, each answered once (with the hint), left idle in the pool.
    const first = await Promise.all([get('/'), get('/')]);
    expect(first.map((r) => r.headers['keep-alive'])).toEqual(['timeout=2', 'timeout=2']);
    const slow = get('/slow');
    await new Promise((r) => setTimeout(r, 100));
    const report = await tracker.drain({ deadlineMs: 5000, idleGraceMs: 200 });
    const answer = await slow;
    agent.destroy();
    // The busy socket outlived the 200 ms grace: its response finished, marked as the last.
    expect(answer).toMatchObject({ status: 200, body: 'done' });
    expect(answer.headers.connection).toBe('close');
    expect(answer.headers['keep-alive']).toBeUndefined();
    expect(report).toMatchObject({
      socketsAtStart: 2,
      requestsCompleted: 1,
      socketsClosedIdle: 1,
      deadlineReached: false,
      requestsCutAtDeadline: 0,
    });
  });
});

describe('what a drain deadline cuts (real server on 127.0.0.1)', () => {
  it('lists a stream begun and not ended (SSE) by path without its query, and an upgraded socket', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n'); // and never ended
    });
    server.on('upgrade', (_req, socket) => {
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n',
      );
    });
    const tracker = new ConnectionTracker(server, 'http');
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const streamed = new Promise<void>((resolve) => {
      http
        .get({ host: '127.0.0.1', port, path: '/events?key=secret', agent: false }, (res) => {
          res.once('data', () => resolve());
          res.on('error', () => undefined);
        })
        .on('error', () => undefined);
    });
    const upgraded = new Promise<void>((resolve) => {
      http
        .get({
          host: '127.0.0.1',
          port,
          path: '/ws',
          headers: { connection: 'upgrade', upgrade: 'test' },
        })
        .on('upgrade', (_res, socket) => {
          socket.on('error', () => undefined);
          resolve();
        })
        .on('error', () => undefined);
    });
    await Promise.all([streamed, upgraded]);
    const report = await tracker.drain({ deadlineMs: 300, idleGraceMs: 100 });
    await new Promise((r) => server.close(r));
    expect(report.deadlineReached).toBe(true);
    const kinds = report.cut.map((w) => w.kind).sort();
    expect(kinds).toEqual(['stream', 'upgraded']);
    expect(report.cut.find((w) => w.kind === 'stream')).toMatchObject({
      method: 'GET',
      path: '/events',
    });
    expect(JSON.stringify(report)).not.toContain('secret');
    expect(report.cutNotListed).toBe(0);
  });
});

describe('handlers told to finish (drainSignalOf, real server on 127.0.0.1)', () => {
  it('10 SSE streams each get their signal when their connection is released, spread over the window, and end before the deadline', async () => {
    const tracker: { current?: ConnectionTracker } = {};
    const abortedAt: number[] = [];
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: hello\n\n');
      const signal = tracker.current?.drainSignalOf(req.socket);
      signal?.addEventListener('abort', () => {
        abortedAt.push(performance.now());
        // The last event: reconnect in a second, to the next generation.
        res.end('retry: 1000\ndata: bye\n\n');
      });
    });
    tracker.current = new ConnectionTracker(server, 'http');
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const bodies = Array.from(
      { length: 10 },
      () =>
        new Promise<string>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port, path: '/events', agent: false }, (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => (body += chunk));
              res.on('end', () => resolve(body));
            })
            .on('error', reject);
        }),
    );
    await new Promise((r) => setTimeout(r, 200));
    const report = await tracker.current.drain({
      deadlineMs: 5000,
      idleGraceMs: 200,
      paceMs: 1000,
    });
    await new Promise((r) => server.close(r));
    for (const body of await Promise.all(bodies)) expect(body).toContain('retry: 1000\ndata: bye');
    expect(report.deadlineReached).toBe(false);
    expect(report.cut).toEqual([]);
    expect(abortedAt).toHaveLength(10);
    // Paced at 20 ms a connection: the last one hears it about 180 ms after the first.
    const spread = Math.max(...abortedAt) - Math.min(...abortedAt);
    expect(spread).toBeGreaterThan(120);
  });
});

describe('WebSockets in a drain (ws on a real server on 127.0.0.1)', () => {
  it('30 clients each get close 1001 without a hook, spread over upgradedPaceMs, and the drain needs no deadline', async () => {
    const { WebSocket, WebSocketServer } = await import('ws');
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (socket) => socket.send('hello'));
    const tracker = new ConnectionTracker(server, 'http');
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const closes: { code: number; at: number }[] = [];
    const clients = await Promise.all(
      Array.from(
        { length: 30 },
        () =>
          new Promise<InstanceType<typeof WebSocket>>((resolve, reject) => {
            const client = new WebSocket(`ws://127.0.0.1:${port}/`);
            client.once('message', () => resolve(client));
            client.once('error', reject);
            client.once('close', (code) => closes.push({ code, at: performance.now() }));
          }),
      ),
    );
    const report = await tracker.drain({ deadlineMs: 5000, idleGraceMs: 200, upgradedPaceMs: 600 });
    await expect.poll(() => closes.length).toBe(30);
    wss.close();
    await new Promise((r) => server.close(r));
    expect(clients).toHaveLength(30);
    expect(new Set(closes.map((c) => c.code))).toEqual(new Set([1001]));
    expect(report).toMatchObject({ deadlineReached: false, cut: [] });
    // 20 ms a connection, at most 600 ms: the last close about 580 ms after the first.
    const at = closes.map((c) => c.at);
    expect(Math.max(...at) - Math.min(...at)).toBeGreaterThan(400);
  });
});

describe('idle keep-alive sockets closed at a bounded rate (real server on 127.0.0.1)', () => {
  it('500 idle sockets that ignore the hint are not all closed in one tick, and all are closed idle', async () => {
    // Every response waits for the 500th request: 500 sockets, none reused.
    const waiting: http.ServerResponse[] = [];
    const server = http.createServer((_req, res) => {
      if (waiting.push(res) === 500) for (const r of waiting) r.end('ok');
    });
    const tracker = new ConnectionTracker(server, 'http');
    // When the server closed each socket (its side: the client's side adds its own delays).
    const closedAt: number[] = [];
    server.on('connection', (socket) => socket.on('close', () => closedAt.push(performance.now())));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 500, maxFreeSockets: 500 });
    await Promise.all(
      Array.from(
        { length: 500 },
        () =>
          new Promise<void>((resolve, reject) => {
            http
              .get({ port, host: '127.0.0.1', agent }, (res) => res.resume().on('end', resolve))
              .on('error', reject);
          }),
      ),
    );
    const report = await tracker.drain({ deadlineMs: 5000, idleGraceMs: 100 });
    await expect.poll(() => closedAt.length).toBe(500);
    agent.destroy();
    await new Promise((r) => server.close(r));
    expect(report).toMatchObject({
      socketsAtStart: 500,
      socketsClosedIdle: 500,
      deadlineReached: false,
    });
    // 50 closes a tick, 10 ms apart: the last about 90 ms after the first (all at once before).
    expect(Math.max(...closedAt) - Math.min(...closedAt)).toBeGreaterThan(60);
  });
});
