// Operators' paths, as a person runs the server: env files read afresh at a restart, a terminal
// that hangs up, Ctrl-C, a file watcher. Real processes, a real pty (script(1)), real signals.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, get, pidAt, pidIn } from './helpers/http.js';
import { Fixture, isAlive, nextPid, poll, sleep, tempDir, waitUntil } from './helpers/process.js';
import { requestInFlight } from './helpers/raw-http.js';

const APP = new URL('./fixtures/operator-app.mjs', import.meta.url).pathname;
const cmdline = (pid: number) =>
  readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
const APP_DOTENV = new URL('./fixtures/operator-app-dotenv.mjs', import.meta.url).pathname;

/** Starts the operator app and resolves with its endpoint and first pid once it answers. */
async function start(
  script: string,
  env: Record<string, string>,
  spawnOptions: ConstructorParameters<typeof Fixture>[4] = {},
  launcher: string[] = [],
  execPath = process.execPath,
) {
  const port = await freePort();
  const endpoint = { host: '127.0.0.1', port };
  const f = new Fixture(script, { PORT: String(port), ...env }, execPath, launcher, spawnOptions);
  const pid = await poll(async () => pidIn((await get(endpoint)).body) || undefined, 10_000);
  if (!pid) throw new Error(`the app did not answer:\n${f.stderr.join('\n')}`);
  f.pids.add(pid);
  return { f, endpoint, pid };
}

describe('env files are read afresh at a restart', () => {
  for (const [how, script, nodeArgs] of [
    ['node --env-file', APP, (dir: string) => [`--env-file=${dir}/.env`]],
    ['dotenv', APP_DOTENV, () => []],
  ] as const) {
    it(`${how}: a value edited in .env is what the next generation sees; the real environment still reaches it`, async () => {
      const dir = tempDir('gr-env-');
      writeFileSync(`${dir}/.env`, 'GREETING=before\n');
      const { f, endpoint, pid } = await start(
        script,
        { EXTRA: 'from-the-environment' },
        { nodeArgs: nodeArgs(dir), cwd: dir },
      );
      expect((await get(endpoint)).body).toContain('greeting=before extra=from-the-environment');
      writeFileSync(`${dir}/.env`, 'GREETING=after\n');
      process.kill(pid, 'SIGHUP');
      const next = await nextPid(endpoint, pid, f);
      const body = (await get(endpoint)).body;
      expect(body).toContain(`pid=${next} greeting=after extra=from-the-environment`);
    });
  }
});

/**
 * The app on a pty of its own, as in a terminal: `script -qfec "node APP; sleep 60" /dev/null`, so
 * that a shell leads the terminal's session and node runs under it, as from a shell prompt; or
 * with `exec` (node leads the session itself).
 */
const onPty = (env: Record<string, string>, how: 'under a shell' | 'exec' = 'under a shell') =>
  // script(1) takes the command as one string: it goes where the Fixture puts node's path.
  start(
    '/dev/null',
    env,
    {},
    ['script', '-qfec'],
    // The shell stays after node's first generation exits, as an interactive one does.
    how === 'exec' ? `exec ${process.execPath} ${APP}` : `${process.execPath} ${APP}; sleep 60`,
  );

describe('on a terminal', () => {
  it('the terminal hanging up drains and exits (no restart into a daemon); a kill -HUP while it is open restarts', async () => {
    const marker = `${tempDir('gr-pty-')}/marker`;
    writeFileSync(marker, '');
    const { f, endpoint, pid } = await onPty({ MARKER_FILE: marker });
    // The terminal is still there: SIGHUP is a request to restart.
    process.kill(pid, 'SIGHUP');
    const next = await nextPid(endpoint, pid, f);
    expect(await waitUntil(() => !isAlive(pid), 10_000)).toBe(true);
    // Closing the terminal: script(1) dies, the pty hangs up, the kernel sends SIGHUP.
    const slow = await requestInFlight(endpoint.port, '/slow?ms=1500');
    f.first.kill('SIGKILL');
    const answer = await slow.answer;
    expect([answer.status, pidIn(answer.body)]).toEqual([200, next]);
    expect(await waitUntil(() => !isAlive(next), 10_000)).toBe(true);
    // It drained and ran its shutdown hook (its log line to the dead terminal did not crash it).
    expect(readFileSync(marker, 'utf8')).toBe(`shutdown ${pid}\nshutdown ${next}\n`);
    // And nothing took its place.
    await expect(get(endpoint)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('leading the terminal session itself (exec node): restarts are refused with the reason, it serves on', async () => {
    const { f, endpoint, pid } = await onPty({}, 'exec');
    process.kill(pid, 'SIGHUP');
    await waitUntil(() => f.stdout.some((line) => line.includes('Restart refused')), 5000);
    expect(f.stdout.join('\n')).toMatch(/Restart refused: this process leads its terminal session/);
    expect(await pidAt(endpoint)).toBe(pid);
  });

  it('Ctrl-C (SIGINT at the keyboard) says that a second one exits at once, drains and exits 0', async () => {
    const { f, endpoint, pid } = await onPty({});
    const slow = await requestInFlight(endpoint.port, '/slow?ms=800');
    process.kill(pid, 'SIGINT');
    expect((await slow.answer).status).toBe(200);
    expect(await waitUntil(() => !isAlive(pid), 10_000)).toBe(true);
    // script(1) relays the pty's output on its own time: the last lines may follow the exit.
    const said = () => f.stdout.join('\n');
    await waitUntil(() => said().includes(`pid ${pid}: cleaned up`), 5000);
    expect(said()).toMatch(/SIGINT: shutting down, .*press Ctrl-C again to exit now/);
    expect(said()).toContain(`pid ${pid}: cleaned up`);
  });
});

describe('a terminal that hangs up, whatever the logger', () => {
  const LOGGER_APP = new URL('./fixtures/logger-app.mjs', import.meta.url).pathname;
  it.each(['pino-sync', 'pino-async', 'console', 'stdout-loop', 'winston'])(
    '%s: the request in flight is answered, the process is gone within the deadline, nothing listens',
    async (logger) => {
      const { f, endpoint, pid } = await start(
        '/dev/null',
        { LOGGER: logger },
        {},
        ['script', '-qfec'],
        `${process.execPath} ${LOGGER_APP}; sleep 60`,
      );
      const slow = await requestInFlight(endpoint.port, '/slow?ms=1500');
      // Closing the terminal: script(1) dies, the pty hangs up, the kernel sends SIGHUP.
      f.first.kill('SIGKILL');
      const answer = await slow.answer;
      expect([answer.status, pidIn(answer.body)]).toEqual([200, pid]);
      // Within the 8 s drain deadline; a write that blocks or spins would keep it forever.
      expect(await waitUntil(() => !isAlive(pid), 8000)).toBe(true);
      await expect(get(endpoint)).rejects.toThrow(/ECONNREFUSED/);
    },
  );
});

describe('the command line', () => {
  it('the next generation keeps it as it was typed (node operator-app.mjs), so pgrep -f still finds it', async () => {
    const fixtures = dirname(APP);
    const { f, endpoint, pid } = await start(
      'operator-app.mjs',
      // `node` found on PATH, as a shell finds it.
      { PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}` },
      { cwd: fixtures },
      [],
      'node',
    );
    const typed = ['node', 'operator-app.mjs'];
    expect(cmdline(pid)).toEqual(typed);
    process.kill(pid, 'SIGHUP');
    const next = await nextPid(endpoint, pid, f);
    expect(cmdline(next)).toEqual(typed);
  });
});

describe('other code handling the signals', () => {
  it('a SIGTERM listener added after the library (as NestJS enableShutdownHooks does) is reported once at ready, naming the fix', async () => {
    const { f } = await start(APP, { OWN_SIGTERM_LISTENER: '1' });
    const warnings = () =>
      f.stderr.filter((line) => line.includes('other listener(s) for SIGTERM'));
    expect(await waitUntil(() => warnings().length > 0, 5000)).toBe(true);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toContain('enableShutdownHooks');
    expect(warnings()[0]).toContain('onShutdown()');
    // Without one, nothing is said.
    const { f: plain } = await start(APP, {});
    await sleep(300);
    expect(plain.stderr.join('\n')).not.toContain('other listener(s)');
    await Promise.all([f.kill(), plain.kill()]);
  });
});

describe('under a file watcher', () => {
  it('node --watch: a SIGHUP is refused with the reason, the same process serves on', async () => {
    const { f, endpoint, pid } = await start(APP, {}, { nodeArgs: ['--watch'] });
    process.kill(pid, 'SIGHUP');
    await waitUntil(() => f.stderr.some((line) => line.includes('Restart refused')), 5000);
    expect(f.stderr.join('\n')).toMatch(
      /Restart refused: node --watch runs this process and restarts it on file changes/,
    );
    expect(await pidAt(endpoint)).toBe(pid);
  });
});
