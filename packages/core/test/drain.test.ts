import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionTracker, keepAliveHintFor } from '../src/index.js';

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
