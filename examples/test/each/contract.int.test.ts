// Every example keeps the examples contract (examples/CONTRACT.md): env, routes, signals.
// The example comes from the vitest project (examples/test/examples.ts, EXAMPLES).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get, pidAt, pidIn } from '../../../packages/core/test/helpers/http.js';
import { HttpLoad, stopAllOk } from '../../../packages/core/test/helpers/load.js';
import {
  acceptQueue,
  Fixture,
  isAlive,
  poll,
  sleep,
  tempDir,
  waitForExit,
  waitUntil,
} from '../../../packages/core/test/helpers/process.js';
import {
  RawHttpConnection,
  requestInFlight,
} from '../../../packages/core/test/helpers/raw-http.js';
import {
  EXAMPLES,
  endAll,
  entryOf,
  launch,
  restart,
  startExample,
  startOnFreePort,
  TOKEN,
} from '../examples.js';

afterEach(endAll);

/** True when one of `f`'s processes logged `text` (plain lines or pino's JSON). */
const said = (f: { stdout: string[]; stderr: string[] }, text: string) =>
  [...f.stdout, ...f.stderr].some((line) => line.includes(text));

describe.each(EXAMPLES)('examples/%s', (example) => {
  it('10 SIGHUPs under 50 busy keep-alive clients: 0 failed requests, 11 pids served, a 3 s request spanning each restart answered by its old pid, PID_FILE follows', async () => {
    const dir = tempDir('gr-ex-');
    const pidFile = `${dir}/app.pid`;
    const { f, port, endpoint } = await startOnFreePort(example, { PID_FILE: pidFile });
    // Written once the generation is ready, which may follow its first answer by a moment.
    const pidFileSays = (pid: number | undefined) => () =>
      existsSync(pidFile) && readFileSync(pidFile, 'utf8') === `${pid}\n`;
    expect(await waitUntil(pidFileSays(f.first.pid), 2000)).toBe(true);
    const load = new HttpLoad({ port, connections: 50, keepAlive: true });
    let pid = f.first.pid as number;
    const generations = [pid];
    const spanning: Array<Promise<[number, { status: number; body: string }]>> = [];
    for (let i = 0; i < 10; i++) {
      // A connection whose owner is known (it answered), then a 3 s request on it: in flight
      // in that process when the restart begins.
      let connection = await RawHttpConnection.open(port);
      let first = await connection.get('/');
      // Met a generation that has just begun to drain (it closes after answering): again.
      while (first.headers['connection'] === 'close') {
        connection = await RawHttpConnection.open(port);
        first = await connection.get('/');
      }
      const owner = pidIn(first.body);
      spanning.push(
        connection.get('/slow?ms=3000').then(({ status, body }) => [owner, { status, body }]),
      );
      await sleep(50);
      const next = await restart(f, endpoint, pid);
      expect(next).not.toBe(pid);
      expect(await waitUntil(pidFileSays(next), 2000), `PID_FILE names ${next}`).toBe(true);
      pid = next;
      generations.push(pid);
    }
    await sleep(200);
    const stats = await stopAllOk(load);
    expect(new Set(generations).size).toBe(11);
    expect(generations.filter((p) => stats.pids.has(p)).length).toBe(11);
    for (const [servedBy, answer] of await Promise.all(spanning)) {
      expect(answer).toEqual({ status: 200, body: `slept 3000 ms in pid=${servedBy}\n` });
    }
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
    const old = generations.slice(0, -1);
    expect(await waitUntil(() => old.every((p) => !isAlive(p)), 10_000), 'old ones exit').toBe(
      true,
    );
  });

  it('SIGTERM under load: in-flight requests complete, exit 0, PID_FILE removed', async () => {
    const pidFile = `${tempDir('gr-ex-')}/app.pid`;
    const { f, port } = await startOnFreePort(example, { PID_FILE: pidFile });
    const pid = f.first.pid as number;
    expect(await waitUntil(() => existsSync(pidFile), 2000)).toBe(true);
    const load = new HttpLoad({ port, connections: 20, keepAlive: true });
    const connections = await Promise.all(
      Array.from({ length: 5 }, () => RawHttpConnection.open(port)),
    );
    const slow = connections.map((connection) =>
      connection.get('/slow?ms=700').then(({ status, body }) => ({ status, body })),
    );
    // Once the server has accepted them: a connection still in the accept queue when the
    // listener closes is reset by the kernel, and would not be in flight.
    expect(await waitUntil(() => acceptQueue(port) === 0, 5000)).toBe(true);
    const signalled = performance.now();
    process.kill(pid, 'SIGTERM');
    expect(await Promise.all(slow)).toEqual(
      Array.from({ length: 5 }, () => ({ status: 200, body: `slept 700 ms in pid=${pid}\n` })),
    );
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
    // Within the drain deadline (8 s by default): the drain did not wait for the deadline.
    expect(performance.now() - signalled).toBeLessThan(8000);
    const stats = await load.stop();
    // Once the listener is closed new connections are refused (nothing replaces a shutdown);
    // what was already sent on open connections was answered, never reset or 5xx.
    expect(stats.failures.reset + stats.failures['5xx'] + stats.failures.other).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
  });

  it('/readyz and /livez: 200 while serving; with a lame duck SIGTERM keeps serving with Connection: close and readiness 503, and ends once only readiness checks come', async () => {
    const { f, port, endpoint } = await startOnFreePort(example, {
      GRACEFUL_RESTART_LAME_DUCK_MS: '20000',
    });
    const pid = f.first.pid as number;
    for (const path of ['/healthz', '/readyz', '/livez']) {
      const answer = await get(endpoint, path);
      expect(answer.status, path).toBe(200);
      expect(JSON.parse(answer.body)).toMatchObject({ status: 'ok', pid });
    }
    const kept = await RawHttpConnection.open(port);
    expect((await kept.get('/')).headers['connection']).not.toBe('close');
    process.kill(pid, 'SIGTERM');
    expect(await poll(async () => said(f, 'lame duck: serving on') || undefined, 5000)).toBe(true);
    // Still listening and serving; each response closes its connection.
    const during = await RawHttpConnection.open(port);
    const answer = await during.get('/');
    expect(answer.status).toBe(200);
    expect(answer.headers['connection']).toBe('close');
    expect((await kept.get('/')).headers['connection']).toBe('close');
    const ready = await get(endpoint, '/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'lame duck', pid });
    expect((await get(endpoint, '/healthz')).status).toBe(503);
    expect((await get(endpoint, '/livez')).status).toBe(200);
    // A balancer's checks and nothing else: the lame duck sees it has moved off.
    while (f.first.exitCode === null) {
      // Refused once the lame duck is over and the drain has closed the listener.
      await get(endpoint, '/readyz').catch(() => undefined);
      await sleep(200);
    }
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
    // The line may still be in the pipe when the process has exited.
    const movedOff = () => said(f, '(the load balancer has moved off); draining') || undefined;
    expect(await poll(async () => movedOff(), 5000)).toBe(true);
  });

  it('a second SIGTERM during a lame duck drains at once: the request in flight is answered, exit 0', async () => {
    const { f, port } = await startOnFreePort(example, { GRACEFUL_RESTART_LAME_DUCK_MS: '60000' });
    const pid = f.first.pid as number;
    process.kill(pid, 'SIGTERM');
    expect(await poll(async () => said(f, 'lame duck: serving on') || undefined, 5000)).toBe(true);
    const connection = await RawHttpConnection.open(port);
    const slow = connection.get('/slow?ms=800');
    expect(await waitUntil(() => acceptQueue(port) === 0, 5000)).toBe(true);
    await sleep(100);
    process.kill(pid, 'SIGTERM');
    expect(await slow).toMatchObject({ status: 200, body: `slept 800 ms in pid=${pid}\n` });
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
    expect(await poll(async () => said(f, 'ending the lame duck') || undefined, 5000)).toBe(true);
  });

  it('on a terminal that hangs up (ssh drop): the request in flight is answered, the process is gone within the deadline, nothing listens', async () => {
    const port = await freePort();
    const endpoint = { host: '127.0.0.1', port };
    // script(1) takes the command as one string: it goes where the Fixture puts node's path.
    const f = new Fixture(
      '/dev/null',
      { PORT: String(port), LOG_LEVEL: 'info' },
      `${process.execPath} ${entryOf(example)}; sleep 60`,
      ['script', '-qfec'],
    );
    const pid = await poll(async () => pidIn((await get(endpoint)).body) || undefined, 10_000);
    expect(pid).toBeTruthy();
    const slow = await requestInFlight(port, '/slow?ms=1500');
    // Closing the terminal: script(1) dies, the pty hangs up, the kernel sends SIGHUP.
    f.first.kill('SIGKILL');
    const answer = await slow.answer;
    expect([answer.status, pidIn(answer.body)]).toEqual([200, pid]);
    expect(await waitUntil(() => !isAlive(pid as number), 8000)).toBe(true);
    await expect(get(endpoint)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('CONFIG_FILE: a broken config is refused and the old generation keeps serving; a fixed one takes over', async () => {
    const dir = tempDir('gr-ex-');
    const config = `${dir}/config.json`;
    const pidFile = `${dir}/app.pid`;
    writeFileSync(config, JSON.stringify({ greeting: 'hello one' }));
    const { f, port, endpoint } = await startOnFreePort(example, {
      CONFIG_FILE: config,
      PID_FILE: pidFile,
    });
    const first = f.first.pid as number;
    expect((await get(endpoint)).body).toBe(`hello one from pid=${first}\n`);

    writeFileSync(config, '{"greeting": ');
    const load = new HttpLoad({ port, connections: 5, keepAlive: true });
    expect(await restart(f, endpoint, first, false)).toBe(first);
    // The refused generation says why on the stderr it shares with the old one.
    const why = `CONFIG_FILE ${config} is not valid JSON`;
    expect(await waitUntil(() => f.stderr.join('\n').includes(why), 5000)).toBe(true);
    // Once the old generation has seen its restart fail: a SIGHUP before that is ignored, as a
    // restart still in progress (under load the refused generation may take a while to exit).
    const failed = () =>
      [...f.stdout, ...f.stderr].some((line) => line.includes('restart failed: '));
    expect(await waitUntil(failed, 10_000)).toBe(true);
    expect((await get(endpoint)).body).toBe(`hello one from pid=${first}\n`);
    expect(readFileSync(pidFile, 'utf8')).toBe(`${first}\n`);

    writeFileSync(config, JSON.stringify({ greeting: 'hello two' }));
    const next = await restart(f, endpoint, first);
    // The new generation answered once it was ready; the old one stops accepting a moment
    // later (both accept on the one socket until it starts to drain): then only the new one.
    expect(await waitUntil(() => !isAlive(first), 10_000)).toBe(true);
    expect((await get(endpoint)).body).toBe(`hello two from pid=${next}\n`);
    const stats = await load.stop();
    expect(stats.failureSamples).toEqual([]);
  });

  it('SOCKET_PATH: the Unix socket answers across 10 restarts under load and is gone after SIGTERM; /slow and /healthz keep the contract', async () => {
    const socketPath = `${tempDir('gr-ex-')}/web.sock`;
    const endpoint = { socketPath };
    const f = await startExample(example, { SOCKET_PATH: socketPath }, endpoint);
    expect((await get(endpoint, '/healthz')).status).toBe(200);
    expect((await get(endpoint, '/slow?ms=abc')).status).toBe(400);
    expect((await get(endpoint, '/slow?ms=60001')).status).toBe(400);
    const slow = get(endpoint, '/slow?ms=300');
    const load = new HttpLoad({ socketPath, connections: 10, keepAlive: true });
    let pid = f.first.pid as number;
    let previous = pid;
    for (let i = 0; i < 10; i++) {
      previous = pid;
      pid = await restart(f, endpoint, pid);
    }
    expect(await slow).toEqual({ status: 200, body: `slept 300 ms in pid=${f.first.pid}\n` });
    const stats = await load.stop();
    expect(stats.failureSamples).toEqual([]);
    expect(pidIn((await get(endpoint)).body)).toBe(pid);
    // The last generation answers from listen() on, and owns the path once ready: its
    // predecessor drains and exits only after that.
    expect(await waitUntil(() => !isAlive(previous), 10_000)).toBe(true);
    process.kill(pid, 'SIGTERM');
    expect(await waitUntil(() => !isAlive(pid), 8000)).toBe(true);
    expect(existsSync(socketPath)).toBe(false);
  });

  it('GRACEFUL_RESTART_TOKEN: 20 concurrent authenticated POST /graceful give one restart and 409 for the rest', async () => {
    const { f, port, endpoint } = await startOnFreePort(example, { GRACEFUL_RESTART_TOKEN: TOKEN });
    const first = f.first.pid as number;
    const url = `http://127.0.0.1:${port}/graceful`;
    const bearer = { authorization: `Bearer ${TOKEN}` };
    // Answering comes a moment before ready (fastify's onListen): wait for "serving".
    const serving = await poll(async () => {
      const body = (await (await fetch(`${url}/status`, { headers: bearer })).json()) as {
        state: string;
      };
      return body.state === 'serving' ? true : undefined;
    }, 5000);
    expect(serving).toBe(true);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(url, { method: 'POST', headers: bearer }).then(
          async (r) => [r.status, await r.json()] as const,
        ),
      ),
    );
    const statuses = answers.map(([status]) => status).sort();
    expect(statuses).toEqual([202, ...Array.from({ length: 19 }, () => 409)]);
    expect(answers.find(([status]) => status === 202)?.[1]).toEqual({
      state: 'restarting',
      pid: first,
    });
    const next = await poll(async () => {
      const served = pidIn((await get(endpoint)).body);
      return served !== first ? served : undefined;
    }, 10_000);
    expect(next).toBeGreaterThan(0);
    f.pids.add(next as number);
    expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
    const status = await fetch(`${url}/status`, { headers: bearer });
    // The new generation reports the restart that made it serve.
    expect(await status.json()).toMatchObject({
      state: 'serving',
      pid: next,
      lastRestart: { ok: true, oldPid: first, newPid: next },
    });
  });

  it('GRACEFUL_RESTART_TOKEN: 100 wrong tokens restart nothing and end in 429; a short token refuses to start', async () => {
    const { f, port, endpoint } = await startOnFreePort(example, { GRACEFUL_RESTART_TOKEN: TOKEN });
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/graceful`, {
        method: 'POST',
        headers: { authorization: `Bearer wrong-${i}-${TOKEN.slice(6)}` },
      });
      statuses.push(r.status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => 401));
    expect(new Set(statuses.slice(10))).toEqual(new Set([429]));
    expect(await pidAt(endpoint)).toBe(f.first.pid);
    await f.kill();

    const short = launch(example, {
      PORT: String(await freePort()),
      GRACEFUL_RESTART_TOKEN: 'too-short-a-token',
    });
    const exit = await waitForExit(short.first);
    expect(exit.code).not.toBe(0);
    const said = short.stderr.join('\n') + short.stdout.join('\n');
    expect(said).toContain('ERR_GRACEFUL_INVALID_OPTION');
    expect(said).toContain('GRACEFUL_RESTART_TOKEN');
    expect(said).not.toContain('too-short-a-token');
  });

  it('PID_FILE in a missing directory: the example refuses to start (exit 1, the error names the fix), nothing listens', async () => {
    const port = await freePort();
    const f = launch(example, { PORT: String(port), PID_FILE: '/nonexistent-dir/app.pid' });
    expect((await waitForExit(f.first)).code).toBe(1);
    const said = f.stderr.join('\n') + f.stdout.join('\n');
    expect(said).toContain('ERR_GRACEFUL_PID_FILE_FAILED');
    expect(said).toContain('Check that its directory exists and is writable');
    await expect(get({ host: '127.0.0.1', port })).rejects.toThrow(/ECONNREFUSED/);
  });

  it('a lingering old generation is visible: it logs what it has left each second, and GET /graceful/status lists it until it exits', async () => {
    const { f, port, endpoint } = await startOnFreePort(example, { GRACEFUL_RESTART_TOKEN: TOKEN });
    const first = f.first.pid as number;
    const connection = await RawHttpConnection.open(port);
    // Long enough to outlast a slow restart (nestjs on a loaded machine: seconds), inside the
    // 8 s deadline of the drain that begins after it started.
    const slow = connection.get('/slow?ms=7000');
    expect(await waitUntil(() => acceptQueue(port) === 0, 5000)).toBe(true);
    await sleep(100);
    const next = await restart(f, endpoint, first);
    const statusNow = async () => {
      const r = await fetch(`http://127.0.0.1:${port}/graceful/status`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      return (await r.json()) as { pid: number; draining: Array<Record<string, unknown>> };
    };
    // Reports come each second: the first may still count restart()'s last probe, which the old
    // generation accepted before it closed its listener and answers with Connection: close.
    const listed = await poll(async () => {
      const body = await statusNow();
      const [entry] = body.draining;
      const slowAlone = entry?.['connections'] === 1 && entry['requestsInFlight'] === 1;
      return body.pid === next && slowAlone ? body.draining : undefined;
    }, 6000);
    expect(listed).toEqual([
      {
        pid: first,
        since: expect.any(String),
        connections: 1,
        requestsInFlight: 1,
        deadline: expect.any(String),
      },
    ]);
    const [entry] = listed as [{ since: string; deadline: string }];
    expect(Date.parse(entry.deadline) - Date.parse(entry.since)).toBe(8000);
    const draining = 'draining: 1 connection(s) left, 1 request(s) in flight';
    expect(await poll(async () => said(f, draining) || undefined, 5000)).toBe(true);
    expect((await slow).status).toBe(200);
    expect(
      await poll(async () => ((await statusNow()).draining.length === 0 ? true : undefined), 5000),
    ).toBe(true);
  });

  it('after a restart the new generation reports it: GET /graceful/status has lastRestart with the old and new pid', async () => {
    const { f, port, endpoint } = await startOnFreePort(example, { GRACEFUL_RESTART_TOKEN: TOKEN });
    const first = f.first.pid as number;
    const next = await restart(f, endpoint, first);
    const status = await poll(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/graceful/status`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const body = (await r.json()) as { pid: number; lastRestart: unknown };
      return body.pid === next && body.lastRestart ? body : undefined;
    }, 5000);
    expect(status?.lastRestart).toMatchObject({ ok: true, oldPid: first, newPid: next });
    if (example === 'fastify') {
      // fastify.log is pino: the restart's numbers come as fields too, not only in the text.
      const lines = () =>
        f.stdout.flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        });
      // The old generation logs it as the new one takes over: it may still be in the pipe.
      await poll(
        async () => lines().some((line) => line['event'] === 'restart') || undefined,
        5000,
      );
      expect(lines()).toContainEqual(
        expect.objectContaining({
          event: 'restart',
          oldPid: first,
          newPid: next,
          durationMs: expect.any(Number),
          plugin: 'graceful-restart',
        }),
      );
    }
  });
});
