import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { NotifyListener } from './helpers/notify.js';
import {
  Fixture,
  failingSuccessorEntry,
  isAlive,
  tempDir,
  waitForExit,
  waitUntil,
} from './helpers/process.js';

const SERVER = new URL('./fixtures/server.mjs', import.meta.url).pathname;

let listener: NotifyListener | undefined;
afterEach(() => {
  listener?.stop();
  listener = undefined;
});

// .ci/run installs systemd-notify (Debian's systemd package); elsewhere the suite is skipped
// when it is missing, and fails under CI so a missing tool cannot pass unseen.
const hasNotify = spawnSync('systemd-notify', ['--version']).status === 0;

describe.skipIf(!hasNotify && !process.env['CI'])('systemd notify (NOTIFY_SOCKET)', () => {
  it('READY=1 when first ready, RELOADING=1 on restart, MAINPID of the new generation with READY=1, STOPPING=1 on shutdown', async () => {
    listener = await NotifyListener.start(`${tempDir('gr-n-')}/notify.sock`);
    const fixture = new Fixture(SERVER, { NOTIFY_SOCKET: listener.path });
    const first = await fixture.waitFor((e) => e.event === 'ready');
    const ready = await listener.waitFor('READY');
    expect(ready).toMatchObject({ READY: '1', STATUS: `serving (pid ${first.pid})` });
    expect(ready['MAINPID']).toBeUndefined();

    const before = listener.messages.length;
    const from = fixture.events.length;
    process.kill(first.pid, 'SIGHUP');
    const next = await fixture.nextReady(first.pid, from);
    const reloading = await listener.waitFor('RELOADING', before);
    // CLOCK_MONOTONIC, the clock of process.hrtime here too.
    const nowUsec = Number(process.hrtime.bigint() / 1000n);
    expect(nowUsec - Number(reloading['MONOTONIC_USEC'])).toBeGreaterThanOrEqual(0);
    expect(nowUsec - Number(reloading['MONOTONIC_USEC'])).toBeLessThan(10_000_000);
    const takeover = await listener.waitFor('MAINPID', before);
    expect(takeover).toMatchObject({ MAINPID: String(next.pid), READY: '1' });
    expect(listener.messages.indexOf(reloading)).toBeLessThan(listener.messages.indexOf(takeover));
    // The old generation drains and exits without a STOPPING=1: the service goes on.
    expect(await waitForExit(fixture.first)).toEqual({ code: 0, signal: null });
    expect(listener.messages.some((m) => 'STOPPING' in m)).toBe(false);

    process.kill(next.pid, 'SIGTERM');
    expect(await waitUntil(() => !isAlive(next.pid), 5000)).toBe(true);
    expect(await listener.waitFor('STOPPING', before)).toMatchObject({ STOPPING: '1' });
  });

  it('a rollback names the previous generation the main pid again (MAINPID, READY=1)', async () => {
    listener = await NotifyListener.start(`${tempDir('gr-n-')}/notify.sock`);
    const fixture = new Fixture(SERVER, {
      NOTIFY_SOCKET: listener.path,
      FIXTURE_OPTIONS: JSON.stringify({ probationMs: 8000 }),
    });
    const first = await fixture.waitFor((e) => e.event === 'ready');
    await listener.waitFor('READY');
    const before = listener.messages.length;
    const next = await fixture.restart(first.pid);
    expect(await listener.waitFor('MAINPID', before)).toMatchObject({ MAINPID: String(next.pid) });
    const afterHandover = listener.messages.length;
    const from = fixture.events.length;
    process.kill(next.pid, 'SIGKILL');
    await fixture.waitFor((e) => e.event === 'rollback', 5000, from);
    expect(await listener.waitFor('MAINPID', afterHandover)).toMatchObject({
      MAINPID: String(first.pid),
      READY: '1',
    });
  });

  it('a failed restart ends the reload with READY=1 and a status naming the failure', async () => {
    listener = await NotifyListener.start(`${tempDir('gr-n-')}/notify.sock`);
    const successor = failingSuccessorEntry(SERVER);
    const fixture = new Fixture(successor.entry, { NOTIFY_SOCKET: listener.path });
    const first = await fixture.waitFor((e) => e.event === 'ready');
    await listener.waitFor('READY');
    successor.arm('throw');
    const before = listener.messages.length;
    const from = fixture.events.length;
    process.kill(first.pid, 'SIGHUP');
    await fixture.waitFor((e) => e.event === 'restart-failed', 10_000, from);
    await listener.waitFor('RELOADING', before);
    const ended = await listener.waitFor('READY', before);
    expect(ended['STATUS']).toMatch(/^restart failed, still serving: .*exit code 1/);
    expect(ended['MAINPID']).toBeUndefined();
    expect(isAlive(first.pid)).toBe(true);
  });
});
