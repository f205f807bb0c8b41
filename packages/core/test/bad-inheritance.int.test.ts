// Inherited descriptors that cannot be right, given by hand (a wrong unit file, a stray
// variable): the app refuses to start at once with a typed error, before anything loops or binds.
import { spawn } from 'node:child_process';
import { openSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/process.js';

const APP = new URL('./fixtures/app/app.mjs', import.meta.url).pathname;

/** Runs core's app with `env` (and `extraFd` as fd 3); resolves with its exit and stderr. */
function start(env: Record<string, string>, extraFd?: number) {
  const child = spawn(process.execPath, [APP], {
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe', ...(extraFd === undefined ? [] : [extraFd])],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const startedAt = performance.now();
  return new Promise<{ code: number | null; stderr: string; ms: number }>((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr, ms: performance.now() - startedAt });
    });
  });
}

describe('bad inherited descriptors: a typed error at once', () => {
  it.each([
    ['LISTEN_FDS=100000000', { LISTEN_FDS: '100000000' }, 'open-file limit'],
    ['LISTEN_FDS=99999999999', { LISTEN_FDS: '99999999999' }, 'open-file limit'],
  ])('%s -> ERR_GRACEFUL_SOCKET_ACTIVATION_INVALID', async (_, env, words) => {
    const result = await start(env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ERR_GRACEFUL_SOCKET_ACTIVATION_INVALID');
    expect(result.stderr).toContain(words);
    // Refused before any loop over the count: no 10 s hang.
    expect(result.ms).toBeLessThan(5000);
  });

  it('a manifest whose ready fd is a regular file -> ERR_GRACEFUL_MANIFEST_INVALID naming what it is', async () => {
    const file = `${tempDir('gr-bad-')}/not-a-pipe`;
    writeFileSync(file, '');
    const manifest = { version: 1, parentPid: process.pid, readyFd: 3, listeners: [] };
    const result = await start(
      { GRACEFUL_RESTART_MANIFEST: JSON.stringify(manifest) },
      openSync(file, 'r'),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ERR_GRACEFUL_MANIFEST_INVALID');
    expect(result.stderr).toContain(`fd 3 is ${file}, not a socket`);
    expect(result.stderr).not.toContain('ERR_INVALID_FD_TYPE');
  });
});
