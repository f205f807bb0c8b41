// Deploys as people run them: a release directory swapped under a `current` symlink, PID 1 of a
// container, `npm start`. Real processes, real signals, loopback only.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort, get, pidIn } from '../../packages/core/test/helpers/http.js';
import { HttpLoad, stopAllOk } from '../../packages/core/test/helpers/load.js';
import {
  Fixture,
  poll,
  sleep,
  tempDir,
  waitForExit,
} from '../../packages/core/test/helpers/process.js';
import { EXAMPLES } from './examples.js';

const examples = new URL('../', import.meta.url).pathname;
const CLI = new URL('../../packages/core/dist/cli.js', import.meta.url).pathname;

/**
 * `root/releases/1` and `root/releases/2`, each a copy of the example (its node_modules linked)
 * with a config.json of its own, and `root/current` pointing at release 1. Release 2's code
 * differs too: its answer says "(release 2 code)".
 */
function releases(example: string): { root: string; current: string; swap: () => void } {
  const root = tempDir('gr-rel-');
  for (const n of [1, 2]) {
    const dir = `${root}/releases/${n}`;
    mkdirSync(`${dir}/${example}`, { recursive: true });
    cpSync(`${examples}shared`, `${dir}/shared`, { recursive: true });
    let code = readFileSync(`${examples}${example}/server.mjs`, 'utf8');
    if (n === 2) code = code.replace('.greeting} from', '.greeting} (release 2 code) from');
    writeFileSync(`${dir}/${example}/server.mjs`, code);
    symlinkSync(`${examples}${example}/node_modules`, `${dir}/${example}/node_modules`);
    writeFileSync(`${dir}/config.json`, JSON.stringify({ greeting: `release-${n}` }));
  }
  const current = `${root}/current`;
  symlinkSync(`${root}/releases/1`, current);
  return {
    root,
    current,
    // As deploy tools do it: a new link renamed over the old one, atomically.
    swap: () => {
      symlinkSync(`${root}/releases/2`, `${root}/current.new`);
      renameSync(`${root}/current.new`, current);
    },
  };
}

/** `cd DIR && exec COMMAND`, as a shell (or a deploy script) starts a service: $PWD is DIR. */
const fromShell = (dir: string) => ['sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', dir];
/** As systemd's WorkingDirectory=DIR does it: the physical directory and no $PWD. */
const fromUnit = (dir: string) => [
  'sh',
  '-c',
  'cd -P "$1" && unset PWD && shift && exec "$@"',
  'sh',
  dir,
];

type Mode = 'shell' | 'explicit cwd' | 'supervisor' | 'supervisor --cwd';
const MODES: Mode[] = ['shell', 'explicit cwd', 'supervisor', 'supervisor --cwd'];

describe.each(EXAMPLES)('examples/%s from a release directory', (example) => {
  it.each(MODES)(
    'started from current/ (%s): after the swap, a restart runs the new release under keep-alive load with 0 failed requests',
    async (mode) => {
      const { root, current, swap } = releases(example);
      const port = await freePort();
      const endpoint = { host: '127.0.0.1', port };
      const supervised = mode.startsWith('supervisor');
      const control = `${root}/control.sock`;
      const launcher =
        mode === 'shell' || mode === 'supervisor' ? fromShell(current) : fromUnit(current);
      const run = supervised
        ? [
            process.execPath,
            CLI,
            'run',
            '--listen',
            `web=127.0.0.1:${port}`,
            '--control',
            control,
            ...(mode === 'supervisor --cwd' ? ['--cwd', current] : []),
            '--',
          ]
        : [];
      // The entry is named relative to the directory, as `node server.mjs` in current/ would be.
      const f = new Fixture(
        `${example}/server.mjs`,
        {
          PORT: String(port),
          CONFIG_FILE: 'config.json',
          ...(mode === 'explicit cwd' ? { GRACEFUL_RESTART_CWD: current } : {}),
        },
        process.execPath,
        [...launcher, ...run],
      );
      const first = await poll(async () => {
        const { body } = await get(endpoint);
        return body.includes('release-1 from') ? pidIn(body) : undefined;
      }, 10_000);
      expect(first).toBeGreaterThan(0);
      f.pids.add(first as number);
      const load = new HttpLoad({ port, connections: 10, keepAlive: true });
      await sleep(200);
      swap();
      if (supervised) process.kill(f.first.pid as number, 'SIGHUP');
      else process.kill(first as number, 'SIGHUP');
      const next = await poll(async () => {
        const { body } = await get(endpoint);
        return body.includes('release-2 (release 2 code) from') ? pidIn(body) : undefined;
      }, 10_000);
      expect(next, f.stderr.slice(-10).join('\n')).toBeGreaterThan(0);
      f.pids.add(next as number);
      expect(next).not.toBe(first);
      await sleep(300);
      await stopAllOk(load);
      // Every answer after the handover comes from release 2.
      for (let i = 0; i < 5; i++)
        expect((await get(endpoint)).body).toContain('release-2 (release 2');
      // fastify logs through pino on stdout; the others on stderr.
      const said = [...f.stderr, ...f.stdout].join('\n');
      if (supervised) {
        expect(said).toMatch(
          new RegExp(`reload: starting a worker to replace pid \\d+ in ${current}:`),
        );
      } else {
        expect(said).toContain(`restart: starting the next generation in ${current}: node `);
        expect(said).toContain(`${current}/${example}/server.mjs`);
      }
    },
  );
});

describe('a direct-mode restart that would end the service is refused', () => {
  it('as PID 1 of a new pid namespace: a startup warning, SIGHUP refused with the typed error, still serving', async () => {
    const port = await freePort();
    const endpoint = { host: '127.0.0.1', port };
    const f = new Fixture(`${examples}http/server.mjs`, { PORT: String(port) }, process.execPath, [
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
      cwd: `${examples}http`,
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
