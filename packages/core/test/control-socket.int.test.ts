// The control socket against another local user (run as root, the other user is `nobody`):
// never reachable through a temporary name, a command acted on exactly as answered, a squatted
// default directory or a foreign socket refused by the supervisor and by the client.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort } from './helpers/http.js';
import { Fixture, poll, tempDir, waitForExit } from './helpers/process.js';
import { cli, runArgs } from './helpers/supervisor.js';

const APP = new URL('./fixtures/app/app.mjs', import.meta.url).pathname;
/** A node that the other user may run (the test's own may sit in a directory closed to it). */
const SYSTEM_NODE = '/usr/bin/node';
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0 && existsSync(SYSTEM_NODE);

/** A directory every user may write in, as the temp dir is. */
function sharedDir(): string {
  const dir = tempDir('gr-ctl-');
  chmodSync(dir, 0o1777);
  return dir;
}

/** `script` run by node as the other user; its stdout, once it exits. */
function asNobody(script: string): { child: ChildProcess; output: Promise<string> } {
  const child = spawn(SYSTEM_NODE, ['-e', script], {
    uid: NOBODY,
    gid: NOBODY,
    cwd: '/',
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  return { child, output: new Promise((resolve) => child.on('close', () => resolve(out))) };
}

/**
 * As the other user: a Unix socket at `path` that answers every line with a forged status and
 * counts the connections; it prints the count when its stdin closes.
 */
function forgedSupervisor(path: string) {
  return asNobody(`
    const net = require('node:net');
    let connections = 0;
    const server = net.createServer((s) => { connections++; s.on('error', () => {}); s.end(JSON.stringify({ ok: true, status: { forged: true } }) + '\\n'); });
    server.listen(${JSON.stringify(path)}, () => { require('node:fs').chmodSync(${JSON.stringify(path)}, 0o777); console.log('listening'); });
    process.stdin.on('end', () => { console.log(connections); process.exit(0); }).resume();
  `);
}

describe.skipIf(!asRoot)('the control socket and another local user', () => {
  it('under umask 000, nothing is reachable through a temporary name during 5 starts', async () => {
    const dir = sharedDir();
    // Tries every socket it can find in the directory, as fast as it can, until stdin closes.
    const prober = asNobody(`
      const fs = require('node:fs'); const net = require('node:net');
      let answers = 0, tries = 0, stop = false;
      process.stdin.on('end', () => { stop = true; }).resume();
      const probe = (path) => new Promise((resolve) => {
        const s = net.connect(path); tries++;
        s.on('data', () => { answers++; s.destroy(); resolve(); });
        s.on('connect', () => s.write(JSON.stringify({ type: 'status' }) + '\\n'));
        s.on('error', resolve); s.on('close', resolve);
      });
      const list = (d) => { try { return fs.readdirSync(d).map((n) => d + '/' + n); } catch { return []; } };
      (async () => {
        while (!stop) {
          const entries = list(${JSON.stringify(dir)});
          const all = entries.concat(...entries.map(list));
          await Promise.all(all.map(probe));
          await new Promise((r) => setImmediate(r));
        }
        console.log(JSON.stringify({ answers, tries }));
      })();
    `);
    for (let i = 0; i < 5; i++) {
      const control = `${dir}/c${i}.sock`;
      const port = await freePort();
      const f = new Fixture(APP, { PORT: String(port) }, process.execPath, [
        'bash',
        '-c',
        'umask 000 && exec "$0" "$@"',
        ...runArgs(port, control),
      ]);
      expect(await poll(async () => existsSync(control) || undefined, 10_000)).toBe(true);
      const stop = await cli(['stop', '--control', control]);
      expect(stop.code, stop.stderr).toBe(0);
      expect(await waitForExit(f.first)).toEqual({ code: 0, signal: null });
    }
    prober.child.stdin?.end();
    const { answers, tries } = JSON.parse(await prober.output) as {
      answers: number;
      tries: number;
    };
    expect(tries).toBeGreaterThan(0);
    expect(answers).toBe(0);
  });

  it('a stop sent the moment the socket appears is carried out as answered, 5 times out of 5', async () => {
    const dir = tempDir('gr-ctl-');
    for (let i = 0; i < 5; i++) {
      const control = `${dir}/c${i}.sock`;
      const port = await freePort();
      const f = new Fixture(APP, { PORT: String(port) }, process.execPath, runArgs(port, control));
      expect(await poll(async () => existsSync(control) || undefined, 10_000, 2)).toBe(true);
      const stop = await cli(['stop', '--control', control]);
      expect(stop).toMatchObject({ code: 0, stdout: 'stopped\n' });
      expect(await waitForExit(f.first, 10_000)).toEqual({ code: 0, signal: null });
    }
  });

  it('a default directory another user made first: the supervisor refuses to start, the client sends nothing; both name the owner', async () => {
    const tmp = sharedDir();
    const squatted = `${tmp}/graceful-restart-0`;
    const made = asNobody(
      `require('node:fs').mkdirSync(${JSON.stringify(squatted)}, { mode: 0o777 });`,
    );
    await made.output;
    const forged = forgedSupervisor(`${squatted}/control.sock`);
    expect(await poll(async () => existsSync(`${squatted}/control.sock`) || undefined, 5000)).toBe(
      true,
    );
    const env = { TMPDIR: tmp, XDG_RUNTIME_DIR: '', GRACEFUL_RESTART_CONTROL: '' };
    const status = await cli(['status'], env);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain(`belongs to uid ${NOBODY}`);
    expect(status.stderr).toContain('ERR_GRACEFUL_CONTROL_SOCKET_UNSAFE');
    expect(status.stdout).not.toContain('forged');
    const port = await freePort();
    const run = await cli(['run', '--listen', `web=127.0.0.1:${port}`, '--', 'node', APP], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${squatted} belongs to uid ${NOBODY}`);
    forged.child.stdin?.end();
    expect((await forged.output).trim().split('\n').at(-1)).toBe('0');
  });

  it("another user's live socket at --control: the supervisor refuses it, the client sends nothing", async () => {
    const dir = sharedDir();
    const path = `${dir}/control.sock`;
    const forged = forgedSupervisor(path);
    expect(await poll(async () => existsSync(path) || undefined, 5000)).toBe(true);
    for (const command of ['status', 'stop', 'reload']) {
      const answer = await cli([command, '--control', path]);
      expect(answer.code, command).toBe(1);
      expect(answer.stderr).toContain(`${path} belongs to uid ${NOBODY}`);
    }
    const port = await freePort();
    const run = await cli([
      'run',
      '--listen',
      `web=127.0.0.1:${port}`,
      '--control',
      path,
      '--',
      'node',
      APP,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`A socket of uid ${NOBODY}, another user`);
    forged.child.stdin?.end();
    // The supervisor's own check that the path is live connects once, and sends nothing.
    expect(Number((await forged.output).trim().split('\n').at(-1))).toBeLessThanOrEqual(1);
  });
});
