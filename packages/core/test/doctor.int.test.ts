// `graceful-restart doctor` in the situations it is for, each started for real: PID 1 of a pid
// namespace, `npm start`, a unit (its file, or systemd-run where systemd runs), a network
// namespace with a low somaxconn, a low ulimit -n, unwritable paths, a foreign control directory.
import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/process.js';
import { CLI, cli } from './helpers/supervisor.js';

const isRoot = process.getuid?.() === 0;
const systemdRuns = await new Promise<boolean>((resolve) =>
  execFile('systemctl', ['is-system-running'], (_error, stdout) =>
    resolve(['running', 'degraded'].includes(stdout.trim())),
  ),
);
const UNITS = new URL('../../../examples/deploy/', import.meta.url).pathname;
// Few enough connections for any machine's ulimit and somaxconn: only the check under test fails.
const FEW = ['--connections', '100'];

/** Runs `command...` and resolves with its exit code and output. */
function sh(command: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      command[0] as string,
      command.slice(1),
      { env: { ...process.env, ...env }, timeout: 60_000, ...(cwd ? { cwd } : {}) },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const line = (out: string, check: string) =>
  out.split('\n').find((l) => l.includes(` ${check}: `)) ?? `(no "${check}" line in:\n${out})`;

describe('graceful-restart doctor', () => {
  it('here, as a test runs it: exit 0, every check listed, --json the same verdict', async () => {
    const { code, stdout } = await cli(['doctor', ...FEW]);
    expect(code, stdout).toBe(0);
    for (const check of [
      'platform',
      'node',
      'restart mode',
      'listen backlog',
      'open files',
      'memory',
    ]) {
      expect(stdout).toContain(` ${check}: `);
    }
    expect(stdout).toContain('A zero-downtime restart is possible here');
    const json = await cli(['doctor', ...FEW, '--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; findings: { status: string }[] };
    expect(parsed.ok).toBe(true);
    expect(parsed.findings.every((f) => f.status !== 'fail')).toBe(true);
  });

  it.skipIf(!isRoot)(
    'as PID 1 of a pid namespace: exit 1, direct restarts refused, the supervisor named as the fix; with --supervisor exit 0',
    async () => {
      const asPid1 = (extra: string[] = []) =>
        sh([
          'unshare',
          '--pid',
          '--fork',
          '--mount-proc',
          process.execPath,
          CLI,
          'doctor',
          ...FEW,
          ...extra,
        ]);
      const direct = await asPid1();
      expect(direct.code, direct.stdout).toBe(1);
      expect(line(direct.stdout, 'restart mode')).toContain('FAIL');
      expect(direct.stdout).toContain('PID 1 of its pid namespace');
      expect(direct.stdout).toContain('fix: Run the app under the stable-PID supervisor');
      const supervised = await asPid1(['--supervisor']);
      expect(supervised.code, supervised.stdout).toBe(0);
      expect(line(supervised.stdout, 'restart mode')).toContain('under the supervisor');
    },
  );

  it('as the start script of npm (npm start): exit 1 naming npm and the script', async () => {
    const dir = tempDir('gr-doctor-npm-');
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({
        name: 'doctor-npm',
        private: true,
        scripts: { start: `"${process.execPath}" "${CLI}" doctor --connections 100` },
      }),
    );
    const { code, stdout } = await sh(
      ['npm', 'start', '--silent'],
      { npm_config_update_notifier: 'false' },
      dir,
    );
    expect(code, stdout).not.toBe(0);
    expect(line(stdout, 'restart mode')).toContain('FAIL');
    expect(stdout).toContain('runs as the "start" script of npm');
  });

  it("a unit file: the repository's units pass; a short TimeoutStopSec, Type=simple and no ExecReload fail or warn, each named", async () => {
    for (const [unit, extra] of [
      ['example-fastify.service', []],
      ['example-fastify-supervised.service', ['--supervisor']],
    ] as const) {
      const good = await cli(['doctor', ...FEW, '--unit', join(UNITS, unit), ...extra]);
      expect(good.code, good.stdout).toBe(0);
      expect(line(good.stdout, 'unit stop budget')).toContain('ok');
    }
    const dir = tempDir('gr-doctor-unit-');
    const bad = join(dir, 'bad.service');
    writeFileSync(
      bad,
      '[Unit]\nDescription=x\n\n[Service]\nExecStart=/usr/bin/node server.mjs\nTimeoutStopSec=5\n',
    );
    const { code, stdout } = await cli(['doctor', ...FEW, '--unit', bad]);
    expect(code, stdout).toBe(1);
    expect(line(stdout, 'unit readiness')).toContain('FAIL');
    expect(stdout).toContain('Type=simple');
    expect(line(stdout, 'unit stop budget')).toContain('FAIL');
    expect(stdout).toContain('exceed TimeoutStopSec of 5000 ms');
    expect(line(stdout, 'unit reload')).toContain('WARN');
    expect(stdout).toContain('ExecReload=/bin/kill -HUP $MAINPID');
  });

  it.skipIf(!systemdRuns)(
    'inside a unit started by systemd-run: its own settings are read',
    async () => {
      const { code, stdout } = await sh([
        'systemd-run',
        '--wait',
        '--pipe',
        '--quiet',
        '-p',
        'TimeoutStopSec=5',
        process.execPath,
        CLI,
        'doctor',
        ...FEW,
      ]);
      expect(code, stdout).toBe(1);
      expect(line(stdout, 'unit stop budget')).toContain('FAIL');
    },
  );

  it.skipIf(!isRoot)(
    'in a network namespace whose somaxconn is 128: exit 1, the backlog named with its fix',
    async () => {
      const { code, stdout } = await sh([
        'unshare',
        '--net',
        'sh',
        '-c',
        `echo 128 > /proc/sys/net/core/somaxconn && exec "${process.execPath}" "${CLI}" doctor --connections 1000`,
      ]);
      expect(code, stdout).toBe(1);
      expect(line(stdout, 'listen backlog')).toContain('FAIL');
      expect(stdout).toContain('net.core.somaxconn is 128');
      expect(stdout).toContain('sysctl -w net.core.somaxconn=');
    },
  );

  it('under ulimit -n 512 for 1000 connections: exit 1, the limit named with what a handover needs', async () => {
    const { code, stdout } = await sh([
      'sh',
      '-c',
      `ulimit -n 512 && exec "${process.execPath}" "${CLI}" doctor --connections 1000`,
    ]);
    expect(code, stdout).toBe(1);
    expect(line(stdout, 'open files')).toContain('FAIL');
    expect(stdout).toContain('ulimit -n is 512');
    expect(stdout).toContain('LimitNOFILE=');
  });

  it('a PID file where it cannot be written, a port held by something else, fd names that do not match: each named', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as { port: number };
    try {
      const { code, stdout } = await cli(
        [
          'doctor',
          ...FEW,
          '--pid-file',
          '/nonexistent-dir/app.pid',
          '--listen',
          `web=127.0.0.1:${port}`,
        ],
        { LISTEN_FDS: '2', LISTEN_FDNAMES: 'http:admin' },
      );
      expect(code, stdout).toBe(1);
      expect(line(stdout, 'pid file')).toContain('FAIL');
      expect(stdout).toContain('RuntimeDirectory=app');
      expect(line(stdout, `port 127.0.0.1:${port}`)).toContain('WARN');
      expect(line(stdout, 'socket activation')).toContain('FAIL');
      expect(stdout).toContain('FileDescriptorName=web');
    } finally {
      holder.close();
    }
  });

  it.skipIf(!isRoot)(
    'a control directory another user made, open to others: exit 1 with --supervisor',
    async () => {
      const dir = join(tempDir('gr-doctor-control-'), 'graceful-restart-0');
      mkdirSync(dir, { mode: 0o777 });
      const nobody = Number(
        /^nobody:x:(\d+):/m.exec(readFileSync('/etc/passwd', 'utf8'))?.[1] ?? 65534,
      );
      chownSync(dir, nobody, nobody);
      const { code, stdout } = await cli([
        'doctor',
        ...FEW,
        '--supervisor',
        '--control',
        join(dir, 'control.sock'),
      ]);
      expect(code, stdout).toBe(1);
      expect(line(stdout, 'control socket')).toContain('FAIL');
      expect(stdout).toContain(`belongs to uid ${nobody}`);
    },
  );
});
