import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HttpLoad, stopAllOk } from './helpers/load.js';
import {
  Fixture,
  failingSuccessorEntry,
  isAlive,
  liveChildren,
  openFds,
  sleep,
  socketsHeldTwice,
  tempDir,
  waitForExit,
  waitUntil,
} from './helpers/process.js';
import { requestInFlight } from './helpers/raw-http.js';

const SERVER = new URL('./fixtures/server.mjs', import.meta.url).pathname;

describe('restart handshake', () => {
  it('restarts 50 times under keep-alive load with 0 failed requests, stable fds, no old generation left', async () => {
    // A short probation: every generation still takes and lets go of its sockets' duplicates,
    // and the 50 sequential restarts (each waiting for the old generation's exit) stay brief.
    const fixture = new Fixture(SERVER, { FIXTURE_OPTIONS: JSON.stringify({ probationMs: 200 }) });
    const first = await fixture.waitFor((e) => e.event === 'ready');
    const port = (first['listeners'] as Array<{ port: number }>)[0]?.port as number;
    const load = new HttpLoad({ port, connections: 20, keepAlive: true });
    await sleep(200);
    const fdsAtStart = openFds(first.pid).length;
    const fdCounts: number[] = [];
    let pid = first.pid;
    const served: number[] = [pid];
    for (let i = 0; i < 50; i++) {
      const next = await fixture.restart(pid);
      expect(await waitUntil(() => !isAlive(pid), 5000)).toBe(true);
      pid = next.pid;
      served.push(pid);
      fdCounts.push(openFds(pid).length);
    }
    await sleep(200);
    const stats = await stopAllOk(load);
    expect(new Set(served).size).toBe(51);
    // The last generation answered requests, and so did most generations before it.
    expect(stats.pids.get(pid)).toBeGreaterThan(0);
    expect(served.filter((p) => stats.pids.has(p)).length).toBeGreaterThan(40);
    expect(served.slice(0, -1).every((p) => !isAlive(p))).toBe(true);
    // Idle keep-alive sockets settle after each handover; compare with the first generation.
    const settledFds = openFds(pid).length;
    expect(Math.max(...fdCounts.slice(-10))).toBeLessThanOrEqual(fdsAtStart + 20);
    expect(settledFds).toBeLessThanOrEqual(fdsAtStart + 20);
  });

  it('a next generation stopped on purpose during the probation is no crash: no rollback, both exit', async () => {
    const fixture = new Fixture(SERVER, { FIXTURE_OPTIONS: JSON.stringify({ probationMs: 8000 }) });
    const first = await fixture.waitFor((e) => e.event === 'ready');
    const next = await fixture.restart(first.pid);
    process.kill(next.pid, 'SIGTERM');
    // Well before the 8 s probation ends: the old generation heard that the new one leaves.
    expect(await waitUntil(() => !isAlive(first.pid) && !isAlive(next.pid), 5000)).toBe(true);
    expect(fixture.events.filter((e) => e.event === 'rollback')).toEqual([]);
  });

  it('a next generation killed during the probation: the old one rolls back and serves; the next restart works', async () => {
    const fixture = new Fixture(SERVER, { FIXTURE_OPTIONS: JSON.stringify({ probationMs: 8000 }) });
    const first = await fixture.waitFor((e) => e.event === 'ready');
    const port = (first['listeners'] as Array<{ port: number }>)[0]?.port as number;
    const next = await fixture.restart(first.pid);
    const from = fixture.events.length;
    process.kill(next.pid, 'SIGKILL');
    const rollback = await fixture.waitFor((e) => e.event === 'rollback', 5000, from);
    expect(rollback.pid).toBe(first.pid);
    expect(rollback['code']).toBe('ERR_GRACEFUL_ROLLED_BACK');
    expect(rollback['message']).toMatch(/signal SIGKILL.*serves again/);
    const load = new HttpLoad({ port, connections: 10, keepAlive: true });
    await sleep(300);
    const stats = await stopAllOk(load);
    expect([...stats.pids.keys()]).toEqual([first.pid]);
    const third = await fixture.restart(first.pid);
    expect(await waitUntil(() => !isAlive(first.pid), 15_000)).toBe(true);
    expect(third.pid).not.toBe(next.pid);
  });

  it('a generation holds its rollback duplicates from ready on: a restart starts the successor and nothing beside it, and each rollback renews them', async () => {
    const fixture = new Fixture(SERVER, { FIXTURE_OPTIONS: JSON.stringify({ probationMs: 8000 }) });
    const first = await fixture.waitFor((e) => e.event === 'ready');
    const port = (first['listeners'] as Array<{ port: number }>)[0]?.port as number;
    for (let round = 0; round < 2; round++) {
      // The duplicates are held (taken after ready, or after the last rollback), their helper gone.
      expect(
        await waitUntil(
          () => socketsHeldTwice(first.pid) === 1 && liveChildren(first.pid).length === 0,
          5000,
        ),
      ).toBe(true);
      // Every child the old generation has between SIGHUP and the successor's ready, seen from
      // /proc every 2 ms (a node helper lives for tens of ms).
      const seen = new Set<number>();
      let watching = true;
      const watch = (async () => {
        while (watching) {
          for (const child of liveChildren(first.pid)) seen.add(child);
          await sleep(2);
        }
      })();
      const next = await fixture.restart(first.pid);
      watching = false;
      await watch;
      expect([...seen]).toEqual([next.pid]);
      // It dies on probation: the old generation listens again on its duplicates.
      const from = fixture.events.length;
      process.kill(next.pid, 'SIGKILL');
      const rollback = await fixture.waitFor((e) => e.event === 'rollback', 5000, from);
      expect(rollback.pid).toBe(first.pid);
      const load = new HttpLoad({ port, connections: 5, keepAlive: true });
      await sleep(200);
      const stats = await stopAllOk(load);
      expect([...stats.pids.keys()]).toEqual([first.pid]);
    }
  });

  it('a successor that throws at startup is refused with its exit code; the old generation keeps serving', async () => {
    const successor = failingSuccessorEntry(SERVER);
    const fixture = new Fixture(successor.entry);
    const first = await fixture.waitFor((e) => e.event === 'ready');
    const port = (first['listeners'] as Array<{ port: number }>)[0]?.port as number;
    const load = new HttpLoad({ port, connections: 10, keepAlive: true });
    successor.arm('throw');
    process.kill(first.pid, 'SIGHUP');
    const failed = await fixture.waitFor((e) => e.event === 'restart-failed');
    expect(failed['code']).toBe('ERR_GRACEFUL_CHILD_EXITED');
    expect(failed['exitCode']).toBe(1);
    expect(String(failed['message'])).toContain('exit code 1');
    await sleep(300);
    const stats = await load.stop();
    expect(stats.failureSamples).toEqual([]);
    expect([...stats.pids.keys()]).toEqual([first.pid]);
    expect(isAlive(first.pid)).toBe(true);
  });

  it('a successor that never becomes ready is stopped after readyTimeoutMs; the old generation keeps serving, its Unix path too', async () => {
    const successor = failingSuccessorEntry(SERVER);
    const socketPath = `${tempDir('gr-')}/web.sock`;
    const fixture = new Fixture(successor.entry, {
      FIXTURE_OPTIONS: JSON.stringify({ readyTimeoutMs: 800 }),
      FIXTURE_LISTENERS: JSON.stringify([{ name: 'unix', path: socketPath }]),
    });
    const first = await fixture.waitFor((e) => e.event === 'ready');
    successor.arm('hang');
    const from = fixture.events.length;
    process.kill(first.pid, 'SIGHUP');
    const hung = await fixture.waitFor(
      (e) => e.event === 'started' && e.pid !== first.pid,
      5000,
      from,
    );
    const failed = await fixture.waitFor((e) => e.event === 'restart-failed', 10_000, from);
    expect(failed['code']).toBe('ERR_GRACEFUL_READY_TIMEOUT');
    expect(await waitUntil(() => !isAlive(hung.pid), 5000)).toBe(true);
    expect(isAlive(first.pid)).toBe(true);
    // Stopped before it was ready, the successor left the path it never owned in place.
    const load = new HttpLoad({ socketPath, connections: 2, keepAlive: false });
    await sleep(100);
    const stats = await load.stop();
    expect(stats.failureSamples).toEqual([]);
    expect([...stats.pids.keys()]).toEqual([first.pid]);
  });

  it('a successor command that cannot be spawned is refused with ERR_GRACEFUL_SPAWN_FAILED; the old generation keeps serving', async () => {
    const fixture = new Fixture(SERVER, {
      FIXTURE_OPTIONS: JSON.stringify({ command: { execPath: '/nonexistent/node', args: [] } }),
    });
    const first = await fixture.waitFor((e) => e.event === 'ready');
    const port = (first['listeners'] as Array<{ port: number }>)[0]?.port as number;
    const load = new HttpLoad({ port, connections: 5, keepAlive: true });
    const from = fixture.events.length;
    process.kill(first.pid, 'SIGHUP');
    const failed = await fixture.waitFor((e) => e.event === 'restart-failed', 10_000, from);
    expect(failed['code']).toBe('ERR_GRACEFUL_SPAWN_FAILED');
    expect(String(failed['message'])).toContain('/nonexistent/node');
    await sleep(100);
    const stats = await load.stop();
    expect(stats.failureSamples).toEqual([]);
    expect([...stats.pids.keys()]).toEqual([first.pid]);
  });

  it('SIGTERM during startup exits 0 without becoming ready', async () => {
    const fixture = new Fixture(SERVER, { FIXTURE_READY_DELAY_MS: '3000' });
    const listening = await fixture.waitFor((e) => e.event === 'listening');
    process.kill(listening.pid, 'SIGTERM');
    expect(await waitForExit(fixture.first, 2500)).toEqual({ code: 0, signal: null });
    expect(fixture.events.filter((e) => e.event === 'ready')).toEqual([]);
  });

  it('a SIGHUP during startup is carried out once the generation is ready', async () => {
    const fixture = new Fixture(SERVER, { FIXTURE_READY_DELAY_MS: '500' });
    const listening = await fixture.waitFor((e) => e.event === 'listening');
    process.kill(listening.pid, 'SIGHUP');
    const first = await fixture.waitFor((e) => e.event === 'ready');
    expect(first.pid).toBe(listening.pid);
    const next = await fixture.nextReady(first.pid, 0);
    expect(await waitUntil(() => !isAlive(first.pid), 5000)).toBe(true);
    expect(await waitForExit(fixture.first)).toEqual({ code: 0, signal: null });

    const from = fixture.events.length;
    process.kill(next.pid, 'SIGTERM');
    expect(await waitUntil(() => !isAlive(next.pid), 5000)).toBe(true);
    expect(fixture.events.slice(from).filter((e) => e.event === 'cleanup')).toHaveLength(1);
  });

  it('20 SIGHUPs within 100 ms never run two restarts at once and leak nothing', async () => {
    const fixture = new Fixture(SERVER);
    const first = await fixture.waitFor((e) => e.event === 'ready');
    const from = fixture.events.length;
    let sent = 0;
    for (; sent < 20; sent++) {
      try {
        process.kill(first.pid, 'SIGHUP');
      } catch (error) {
        // On fast machines the handover completes mid-storm and the old generation is gone.
        if ((error as NodeJS.ErrnoException).code === 'ESRCH') break;
        throw error;
      }
      await sleep(5);
    }
    expect(sent).toBeGreaterThan(1);
    const next = await fixture.nextReady(first.pid, from);
    expect(await waitUntil(() => !isAlive(first.pid), 5000)).toBe(true);
    await sleep(500);
    const readies = fixture.events.slice(from).filter((e) => e.event === 'ready');
    expect(readies.map((e) => e.pid)).toEqual([next.pid]);
    expect([...fixture.pids].filter(isAlive)).toEqual([next.pid]);
  });

  it('SIGTERM during a restart stops the successor; the parent drains and exits 0', async () => {
    const successor = failingSuccessorEntry(SERVER);
    const fixture = new Fixture(successor.entry);
    const first = await fixture.waitFor((e) => e.event === 'ready');
    successor.arm('hang');
    const from = fixture.events.length;
    process.kill(first.pid, 'SIGHUP');
    const hung = await fixture.waitFor(
      (e) => e.event === 'started' && e.pid !== first.pid,
      5000,
      from,
    );
    process.kill(first.pid, 'SIGTERM');
    const exit = await waitForExit(fixture.first);
    expect(exit).toEqual({ code: 0, signal: null });
    const aborted = await fixture.waitFor((e) => e.event === 'restart-failed', 5000, from);
    expect(aborted['code']).toBe('ERR_GRACEFUL_RESTART_ABORTED');
    expect(await waitUntil(() => !isAlive(hung.pid), 5000)).toBe(true);
    expect(fixture.events.filter((e) => e.event === 'cleanup')).toHaveLength(1);
  });

  it('SIGTERM to a generation draining after a handover lets that drain finish and exits 0', async () => {
    const fixture = new Fixture(SERVER);
    const first = await fixture.waitFor((e) => e.event === 'ready');
    const port = (first['listeners'] as Array<{ port: number }>)[0]?.port as number;
    const { answer } = await requestInFlight(port, '/slow?ms=1500');
    const slow = answer.then(({ status, body }) => [status, body] as const);
    const from = fixture.events.length;
    process.kill(first.pid, 'SIGHUP');
    await fixture.nextReady(first.pid, from);
    process.kill(first.pid, 'SIGTERM');
    const exit = await waitForExit(fixture.first);
    expect(exit).toEqual({ code: 0, signal: null });
    const [status, body] = await slow;
    expect(status).toBe(200);
    expect(body).toContain(`pid=${first.pid}`);
    expect(fixture.events.filter((e) => e.event === 'drained' && e.pid === first.pid)).toHaveLength(
      1,
    );
  });
});

describe("V8's compile cache", () => {
  const environ = (pid: number) =>
    Object.fromEntries(
      readFileSync(`/proc/${pid}/environ`, 'latin1')
        .split('\0')
        .filter(Boolean)
        .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
    );

  it("a successor gets it in node's default directory; a directory the user chose, or a disabled cache, is kept", async () => {
    const fixture = new Fixture(SERVER);
    const first = await fixture.waitFor((e) => e.event === 'ready');
    expect(environ(first.pid)['NODE_COMPILE_CACHE']).toBeUndefined();
    const next = await fixture.restart(first.pid);
    expect(environ(next.pid)['NODE_COMPILE_CACHE']).toBe(join(tmpdir(), 'node-compile-cache'));

    const own = tempDir('gr-ncc-');
    for (const env of [{ NODE_COMPILE_CACHE: own }, { NODE_DISABLE_COMPILE_CACHE: '1' }]) {
      const configured = new Fixture(SERVER, env);
      const before = await configured.waitFor((e) => e.event === 'ready');
      const after = environ((await configured.restart(before.pid)).pid);
      expect(after['NODE_COMPILE_CACHE']).toBe(env.NODE_COMPILE_CACHE);
      expect(after['NODE_DISABLE_COMPILE_CACHE']).toBe(env.NODE_DISABLE_COMPILE_CACHE);
    }
  });
});
