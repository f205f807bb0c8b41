// A direct-mode restart is refused where the process's exit would end the service: PID 1 of a
// container, `npm start`. Real processes, real signals, loopback only.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort, get, pidIn } from './helpers/http.js';
import { Fixture, poll, sleep, waitForExit } from './helpers/process.js';

const APP_DIR = new URL('./fixtures/app/', import.meta.url).pathname;

describe('a direct-mode restart that would end the service is refused', () => {
  it('as PID 1 of a new pid namespace: a startup warning, SIGHUP refused with the typed error, still serving', async () => {
    const port = await freePort();
    const endpoint = { host: '127.0.0.1', port };
    const f = new Fixture(`${APP_DIR}app.mjs`, { PORT: String(port) }, process.execPath, [
      'unshare',
      '--pid',
      '--fork',
      '--mount-proc',
    ]);
    expect(await poll(async () => pidIn((await get(endpoint)).body) || undefined, 10_000)).toBe(1);
    expect(f.stderr.join('\n')).toMatch(/restarts are refused here: this process is PID 1/);
    // The node process is unshare's child, seen from here by its host pid.
    const node = await poll(async () => childOf(f.first.pid as number), 5000);
    process.kill(node as number, 'SIGHUP');
    await poll(
      async () =>
        f.stderr.some(
          (l) => l.includes('ERR_GRACEFUL_DIRECT_RESTART_UNSAFE') || l.includes('Restart refused'),
        )
          ? true
          : undefined,
      5000,
    );
    expect(f.stderr.join('\n')).toMatch(/restart failed: Restart refused: .*graceful-restart run/);
    await sleep(300);
    expect(pidIn((await get(endpoint)).body)).toBe(1);
    process.kill(node as number, 'SIGTERM');
    expect((await waitForExit(f.first)).code).toBe(0);
  });

  it('under `npm start`: a startup warning, SIGHUP refused with the typed error, still serving', async () => {
    const port = await freePort();
    const endpoint = { host: '127.0.0.1', port };
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: APP_DIR,
      env: { ...process.env, PORT: String(port), npm_lifecycle_event: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    npm.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    try {
      const pid = await poll(async () => pidIn((await get(endpoint)).body) || undefined, 15_000);
      expect(pid).toBeGreaterThan(0);
      expect(stderr).toMatch(
        /restarts are refused here: this process runs as the "start" script of npm/,
      );
      process.kill(pid as number, 'SIGHUP');
      await poll(async () => (stderr.includes('Restart refused') ? true : undefined), 5000);
      expect(stderr).toMatch(/restart failed: Restart refused: .*graceful-restart run/);
      await sleep(300);
      expect(pidIn((await get(endpoint)).body)).toBe(pid);
      process.kill(pid as number, 'SIGTERM');
      expect((await waitForExit(npm)).code).toBe(0);
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
    }
  });
});

/** The one child of `pid`, from /proc, once there is one. */
function childOf(pid: number): number | undefined {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text ? Number(text.split(' ')[0]) : undefined;
}
