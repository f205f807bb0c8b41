// A restart that cannot start fails as a restart: the generation that serves keeps serving, and
// a later restart works once the resource is back.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get, pidIn, servedBy } from './helpers/http.js';
import { Fixture, isAlive, poll, sleep } from './helpers/process.js';

const APP = new URL('./fixtures/app/app.mjs', import.meta.url).pathname;

const flood: net.Socket[] = [];
afterEach(() => {
  for (const socket of flood.splice(0)) socket.destroy();
});

describe('a restart out of resources', () => {
  it('out of fds (ulimit -n 128, 300 connections held): SIGHUP fails with the fix named, the old generation serves on, and a SIGHUP after the flood works', async () => {
    const port = await freePort();
    const endpoint = { host: '127.0.0.1', port };
    const f = new Fixture(APP, { PORT: String(port) }, process.execPath, [
      'bash',
      '-c',
      'ulimit -n 128 && exec "$0" "$@"',
    ]);
    const pid = f.first.pid as number;
    expect(await poll(async () => pidIn((await get(endpoint)).body) || undefined, 10_000)).toBe(
      pid,
    );
    for (let i = 0; i < 300; i++) {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      flood.push(socket);
    }
    await sleep(500);
    process.kill(pid, 'SIGHUP');
    const failed = await poll(
      async () => f.stderr.find((line) => line.includes('restart failed')) ?? undefined,
      10_000,
    );
    expect(failed).toContain('EMFILE');
    expect(failed).toContain('raise its limit (ulimit -n, LimitNOFILE= in the unit)');
    await sleep(300);
    expect(isAlive(pid)).toBe(true);
    for (const socket of flood.splice(0)) socket.destroy();
    expect(await poll(async () => pidIn((await get(endpoint)).body) || undefined, 5000)).toBe(pid);
    process.kill(pid, 'SIGHUP');
    const next = await poll(async () => {
      const served = pidIn((await get(endpoint)).body);
      return served && served !== pid ? served : undefined;
    }, 10_000);
    expect(next).toBeTruthy();
    f.pids.add(next as number);
    expect(await servedBy(endpoint, next as number)).toBe(next);
    expect(f.stderr.join('\n')).not.toContain("Unhandled 'error' event");
  });
});
