// The stable-PID supervisor (`graceful-restart run`) with core's small app: stop signals, a
// terminal, probation, crashes, listeners and its command line.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, get, pidIn } from './helpers/http.js';
import { HttpLoad } from './helpers/load.js';
import {
  Fixture,
  isAlive,
  listenBacklog,
  poll,
  shownBacklog,
  sleep,
  tempDir,
  waitForExit,
  waitUntil,
} from './helpers/process.js';
import { RawHttpConnection, requestInFlight } from './helpers/raw-http.js';
import {
  CLI,
  childrenOf,
  cli,
  nextServing,
  nextServingSet,
  procStat,
  runArgs,
  status,
  supervise,
} from './helpers/supervisor.js';

const APP = new URL('./fixtures/app/app.mjs', import.meta.url).pathname;

describe('a second stop signal to the process group', () => {
  it('forces the exit, as a second Ctrl-C should: the request in flight is cut, the supervisor exits 1', async () => {
    const s = await supervise(APP, { detached: true });
    const worker = (await status(s)).servingPid;
    const slow = get(s.endpoint, '/slow?ms=5000').then(
      (answer) => answer.status,
      (error: NodeJS.ErrnoException) => error.code ?? error.message,
    );
    await sleep(400);
    const group = s.f.first.pid as number;
    process.kill(-group, 'SIGINT');
    await sleep(400);
    process.kill(-group, 'SIGINT');
    expect(await waitForExit(s.f.first)).toEqual({ code: 1, signal: null });
    expect(await slow).not.toBe(200);
    expect(await waitUntil(() => !isAlive(worker), 5000)).toBe(true);
    expect(s.f.stderr.join('\n')).toMatch(/SIGINT again: exiting now/);
  });
});

describe('graceful-restart run on a terminal', () => {
  it('the terminal hanging up stops the supervisor and its worker: the request in flight is answered, the PID file and control socket are removed', async () => {
    const dir = tempDir('gr-sup-pty-');
    const port = await freePort();
    const endpoint = { host: '127.0.0.1', port };
    const pidFile = `${dir}/supervisor.pid`;
    const control = `${dir}/control.sock`;
    // On a pty of its own, under a shell that stays, as from a shell prompt: script(1) takes
    // the command as one string, which goes where the Fixture puts node's path.
    const command = [
      ...runArgs(port, control, ['--pid-file', pidFile]),
      process.execPath,
      APP,
    ].join(' ');
    const f = new Fixture('/dev/null', {}, `${command}; sleep 60`, ['script', '-qfec']);
    const worker = await poll(async () => pidIn((await get(endpoint)).body) || undefined, 10_000);
    expect(worker).toBeGreaterThan(0);
    f.pids.add(worker as number);
    await waitUntil(() => existsSync(pidFile), 5000);
    const supervisorPid = Number(readFileSync(pidFile, 'utf8'));
    f.pids.add(supervisorPid);
    const slow = await requestInFlight(port, '/slow?ms=1500');
    // Closing the terminal: script(1) dies, the pty hangs up, the kernel sends SIGHUP.
    f.first.kill('SIGKILL');
    const answer = await slow.answer;
    expect([answer.status, pidIn(answer.body)]).toEqual([200, worker]);
    expect(
      await waitUntil(() => !isAlive(supervisorPid) && !isAlive(worker as number), 10_000),
    ).toBe(true);
    // A clean stop, not a reload nor death by SIGHUP: what it owned is removed.
    expect(existsSync(pidFile)).toBe(false);
    expect(existsSync(control)).toBe(false);
    await expect(get(endpoint)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('graceful-restart run', () => {
  it('a new worker stopped on purpose during its probation is no rollback: a worker is brought up, the old one exits', async () => {
    const s = await supervise(APP, { args: ['--probation', '8s'] });
    const old = (await status(s)).servingPid;
    process.kill(s.supervisorPid, 'SIGHUP');
    const next = await nextServing(s, old);
    process.kill(next, 'SIGTERM');
    const third = await poll(async () => {
      const now = (await status(s)).servingPid;
      return now && now !== old && now !== next ? now : undefined;
    }, 10_000);
    expect(third).toBeGreaterThan(0);
    expect(pidIn((await get(s.endpoint)).body)).toBe(third);
    // Well before the 8 s probation would end: the old worker was let go.
    expect(await waitUntil(() => procStat(old) === undefined, 5000)).toBe(true);
    expect((await status(s)).lastReload).toMatchObject({ ok: true });
  });

  it("the held socket's backlog is the same after 3 reloads of 2 workers (ss -ltn): no worker resets it to node's 511", async () => {
    const s = await supervise(APP, { args: ['--workers', '2'] });
    const port = (s.endpoint as { port: number }).port;
    expect(listenBacklog({ port })).toBe(shownBacklog());
    let pids = (await status(s)).servingPids;
    for (let i = 0; i < 3; i++) {
      expect((await cli(['reload', '--control', s.control])).code).toBe(0);
      pids = await nextServingSet(s, pids);
      expect(listenBacklog({ port })).toBe(shownBacklog());
    }
  });

  it('a worker SIGKILLed under load: 0 refused connections, a new worker serves after the first backoff step', async () => {
    const s = await supervise(APP);
    const { port } = s.endpoint as { port: number };
    // New connections all the time: they must queue in the backlog, not be refused.
    const load = new HttpLoad({ port, connections: 20, keepAlive: false });
    await sleep(300);
    const victim = (await status(s)).servingPid;
    process.kill(victim, 'SIGKILL');
    const next = await nextServing(s, victim);
    await poll(async () => (pidIn((await get(s.endpoint)).body) === next ? true : undefined), 5000);
    await sleep(300);
    const stats = await load.stop();
    expect(stats.failures.refused).toBe(0);
    // Only requests the killed worker had in flight may fail: reset, at most one per client.
    expect(stats.failures.timeout + stats.failures['5xx'] + stats.failures.other).toBe(0);
    expect(stats.failures.reset).toBeLessThanOrEqual(20);
    expect(stats.pids.get(next)).toBeGreaterThan(0);
    const supervisorLog = s.f.stderr.join('\n');
    expect(supervisorLog).toContain(`worker pid ${victim} died while serving (signal SIGKILL)`);
    expect(supervisorLog).toContain('starting a worker in 100 ms (attempt 1 of 10)');
    const after = await status(s);
    expect(after.crashes).toBe(1);
    expect(after.supervisorPid).toBe(s.supervisorPid);
  });

  it('`reload` with a broken config exits 1 and the old worker keeps serving; a fixed config then reloads', async () => {
    const dir = tempDir('gr-sup-config-');
    const config = `${dir}/config.json`;
    writeFileSync(config, '{"greeting":"hello"}');
    const s = await supervise(APP, { env: { CONFIG_FILE: config } });
    const before = await status(s);
    writeFileSync(config, '{"greeting": ');
    const failed = await cli(['reload', '--control', s.control]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/reload failed \(ERR_GRACEFUL_CHILD_EXITED\).*exit code 1/);
    const body = (await get(s.endpoint)).body;
    expect(body).toBe(`hello from pid=${before.servingPid}\n`);
    expect((await status(s)).servingPid).toBe(before.servingPid);
    writeFileSync(config, '{"greeting":"fixed"}');
    const ok = await cli(['reload', '--control', s.control]);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await get(s.endpoint)).body).toMatch(/^fixed from pid=/);
  });

  it('as PID 1 of a new pid namespace (unshare): reloads work, no zombie accumulates, stop exits 0', async () => {
    const s = await supervise(APP, { prefix: ['unshare', '--pid', '--fork', '--mount-proc'] });
    // The PID file is written inside the namespace: the supervisor is pid 1 there.
    expect(s.supervisorPid).toBe(1);
    const hostPid = childrenOf(s.f.first.pid as number)[0]?.pid as number;
    expect(hostPid).toBeGreaterThan(1);
    const { port } = s.endpoint as { port: number };
    const load = new HttpLoad({ port, connections: 10, keepAlive: true });
    const served = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const reload = await cli(['reload', '--control', s.control]);
      expect(reload.code, reload.stderr).toBe(0);
      served.add(pidIn((await get(s.endpoint)).body));
    }
    await sleep(300);
    const stats = await load.stop();
    expect(stats.failureSamples).toEqual([]);
    expect(served.size).toBe(10);
    // Every replaced worker was reaped by PID 1: its only child is the serving worker.
    expect(
      await waitUntil(() => {
        const children = childrenOf(hostPid);
        return children.length === 1 && children.every((c) => c.state !== 'Z');
      }, 5000),
    ).toBe(true);
    const stop = await cli(['stop', '--control', s.control]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(await waitForExit(s.f.first)).toEqual({ code: 0, signal: null });
  });

  it('a Unix socket listener: the path survives a worker stopped on its own, and is removed when the supervisor stops', async () => {
    const dir = tempDir('gr-sup-unix-');
    const path = `${dir}/app.sock`;
    const s = await supervise(APP, {
      listen: `web=unix:${path},mode=0660`,
      env: { SOCKET_PATH: path },
    });
    expect(statSync(path).mode & 0o777).toBe(0o660);
    const first = (await status(s)).servingPid;
    // SIGTERM to the worker alone: it drains and exits 0; the supervisor's path must stay.
    process.kill(first, 'SIGTERM');
    const next = await nextServing(s, first);
    expect(existsSync(path)).toBe(true);
    expect(pidIn((await get(s.endpoint)).body)).toBe(next);
    const stop = await cli(['stop', '--control', s.control]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(await waitForExit(s.f.first)).toEqual({ code: 0, signal: null });
    expect(existsSync(path)).toBe(false);
  });

  // app.socket: systemd names the fd after the socket unit unless FileDescriptorName= is set.
  it.each(['web', 'app.socket'])(
    'under systemd-socket-activate --fdname=%s: the activated socket is held and handed to every worker',
    async (fdname) => {
      const port = await freePort();
      const s = await supervise(APP, {
        listen: '',
        port,
        prefix: ['systemd-socket-activate', '-l', `127.0.0.1:${port}`, `--fdname=${fdname}`],
        env: { PORT: String(port) },
      });
      expect(s.f.stderr.join('\n')).toContain(
        `listener "web" socket-activated on 127.0.0.1:${port}`,
      );
      if (fdname !== 'web') {
        expect(s.f.stderr.join('\n')).toContain(
          `named "${fdname}" (the socket unit's default name)`,
        );
      }
      const before = (await status(s)).servingPid;
      const reload = await cli(['reload', '--control', s.control]);
      expect(reload.code, reload.stderr).toBe(0);
      expect(pidIn((await get({ host: '127.0.0.1', port })).body)).not.toBe(before);
    },
  );

  it('a crash loop is bounded: workers that never start make it give up with exit code 3', async () => {
    const dir = tempDir('gr-sup-loop-');
    const config = `${dir}/config.json`;
    writeFileSync(config, 'not json');
    const port = await freePort();
    const f = new Fixture(
      APP,
      { CONFIG_FILE: config },
      process.execPath,
      runArgs(port, `${dir}/control.sock`, ['--max-restarts', '3']),
    );
    expect(await waitForExit(f.first, 20_000)).toEqual({ code: 3, signal: null });
    const log = f.stderr.join('\n');
    expect(log).toContain('starting a worker in 100 ms (attempt 1 of 3)');
    expect(log).toContain('starting a worker in 400 ms (attempt 3 of 3)');
    expect(log).toContain('giving up: the worker failed and 3 restarts in a row failed too');
    // Nothing served yet: the messages say so, not that a generation "keeps serving".
    expect(log).toContain(
      'no worker serves yet: connections wait in the listen backlog while the supervisor retries',
    );
    expect(log).not.toContain('this generation keeps serving');
    expect(existsSync(`${dir}/control.sock`)).toBe(false);
    // The port is released with the supervisor.
    const free = await get({ host: '127.0.0.1', port }).then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code,
    );
    expect(free).toBe('ECONNREFUSED');
  });

  it('a worker that is not ready in time names the flag to raise, --ready-timeout', async () => {
    const dir = tempDir('gr-sup-slow-');
    const port = await freePort();
    // The worker: `node -e <never ready>`, the example's path after it only as an argument.
    const f = new Fixture(APP, {}, process.execPath, [
      ...runArgs(port, `${dir}/control.sock`, ['--ready-timeout', '300ms', '--max-restarts', '0']),
      process.execPath,
      '-e',
      'setInterval(() => {}, 1000)',
    ]);
    expect(await waitForExit(f.first, 20_000)).toEqual({ code: 3, signal: null });
    const log = f.stderr.join('\n');
    expect(log).toContain('did not become ready within 300 ms');
    expect(log).toContain('Raise graceful-restart run --ready-timeout if startup is slow');
    expect(log).not.toContain('readyTimeoutMs');
  });

  it('a listener the supervisor does not hold is a typed error in the worker', async () => {
    const dir = tempDir('gr-sup-name-');
    const port = await freePort();
    const f = new Fixture(APP, {}, process.execPath, [
      process.execPath,
      CLI,
      'run',
      '--listen',
      `api=127.0.0.1:${port}`,
      '--control',
      `${dir}/control.sock`,
      '--max-restarts',
      '0',
      '--',
    ]);
    expect(await waitForExit(f.first, 20_000)).toEqual({ code: 3, signal: null });
    expect(f.stderr.join('\n')).toMatch(
      /Listener "web" is not held by the supervisor \(it holds: api\)\. Add --listen web=127\.0\.0\.1:3000/,
    );
    expect(f.stderr.join('\n')).toContain('ERR_GRACEFUL_LISTENER_NOT_SUPERVISED');
  });

  it('status lists a worker still draining after a reload (pid, connections and requests left, the deadline) until it exits', async () => {
    const s = await supervise(APP);
    const { port } = s.endpoint as { port: number };
    const old = (await status(s)).servingPid;
    const slow = (await RawHttpConnection.open(port)).get('/slow?ms=3000');
    await sleep(200);
    // `reload` answers once the probation has passed, and the old worker goes right after: on a
    // loaded machine that can be after the slow request, so status is asked meanwhile.
    const reload = cli(['reload', '--control', s.control]);
    const draining = await poll(async () => {
      const now = await status(s);
      return now.draining.length > 0 ? now.draining : undefined;
    }, 10_000);
    expect(draining).toEqual([
      expect.objectContaining({ pid: old, connections: 1, requestsInFlight: 1 }),
    ]);
    expect((await reload).code).toBe(0);
    expect((await slow).status).toBe(200);
    expect(
      await poll(async () => ((await status(s)).draining.length === 0 ? true : undefined), 5000),
    ).toBe(true);
  });

  it('--lame-duck: on stop every worker serves on with readiness 503 and Connection: close, ends once only readiness checks come, then the supervisor exits 0', async () => {
    const s = await supervise(APP, { args: ['--workers', '2', '--lame-duck', '30s'] });
    const { port } = s.endpoint as { port: number };
    const workers = (await status(s)).servingPids;
    process.kill(s.supervisorPid, 'SIGTERM');
    const saidBy = (text: string) => [...s.f.stdout, ...s.f.stderr].filter((l) => l.includes(text));
    expect(
      await poll(async () => saidBy('lame duck: serving on').length === 2 || undefined, 5000),
    ).toBe(true);
    // Both workers still serve on the held listener; every response closes its connection.
    const answer = await (await RawHttpConnection.open(port)).get('/');
    expect(answer.status).toBe(200);
    expect(workers).toContain(pidIn(answer.body));
    expect(answer.headers['connection']).toBe('close');
    expect((await get(s.endpoint, '/healthz')).status).toBe(503);
    expect((await get(s.endpoint, '/livez')).status).toBe(200);
    // A balancer's readiness checks and nothing else, spread over both workers.
    while (s.f.first.exitCode === null) {
      // Refused once the workers have drained and the supervisor lets go of the listener.
      await get(s.endpoint, '/healthz').catch(() => undefined);
      await sleep(100);
    }
    expect(await waitForExit(s.f.first)).toEqual({ code: 0, signal: null });
    const movedOff = () => saidBy('(the load balancer has moved off); draining').length;
    expect(await poll(async () => (movedOff() === 2 ? true : undefined), 5000)).toBe(true);
    expect(saidBy("the supervisor's lame duck")).toHaveLength(2);
  });

  it('--lame-duck with a bad time, or GRACEFUL_RESTART_LAME_DUCK_MS that is no number: exit 2 naming it', async () => {
    const bad = await cli(['run', '--lame-duck', 'a while', '--', 'node', 'x.js']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--lame-duck a while: expected a duration like 30s');
    const badEnv = await cli(['run', '--listen', 'web=127.0.0.1:1', '--', 'node', 'x.js'], {
      GRACEFUL_RESTART_LAME_DUCK_MS: '5s',
    });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('GRACEFUL_RESTART_LAME_DUCK_MS must be a whole number');
  });

  it("--help for every command exits 0 with that command's usage; run without listeners names the two ways (exit 2)", async () => {
    for (const command of ['run', 'reload', 'status', 'stop', 'doctor']) {
      for (const asked of [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
      ]) {
        const { code, stdout } = await cli(asked);
        expect(code, asked.join(' ')).toBe(0);
        expect(stdout).toContain(`graceful-restart ${command} [`);
      }
    }
    // --help after the worker command's "--" is the worker's.
    const worker = await cli(['run', '--', 'node', '--help']);
    expect(worker.stderr).toContain('run: no listeners to hold');
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('graceful-restart doctor');
    const none = await cli(['run', '--', 'node', 'app.js'], { LISTEN_FDS: '' });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--listen 3000');
    expect(none.stderr).toContain('socket activation');
  });

  it('bad command lines exit 2 with the problem and the usage; no supervisor to talk to exits 1', async () => {
    const noCommand = await cli(['run', '--listen', 'web=127.0.0.1:1']);
    expect(noCommand.code).toBe(2);
    expect(noCommand.stderr).toContain('give the worker command after "--"');
    const badListen = await cli(['run', '--listen', 'web=nowhere', '--', 'node', 'x.js']);
    expect(badListen.code).toBe(2);
    expect(badListen.stderr).toContain('expected name=host:port');
    const badHost = await cli(['run', '--listen', 'web=localhost:3000', '--', 'node', 'x.js']);
    expect(badHost.code).toBe(2);
    expect(badHost.stderr).toContain('is a name, not an address');
    // The fix is spelt as a command line, not as code.
    expect(badHost.stderr).toContain('--listen web4=127.0.0.1:3000 --listen web6=[::1]:3000');
    expect(badHost.stderr).not.toContain('{ name:');
    const badMode = await cli(['run', '--listen', 'web=unix:/tmp/x.sock,perm=1', '--', 'node']);
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toContain('unknown option "perm=1"');
    const badTimeout = await cli(['run', '--ready-timeout', 'soon', '--', 'node', 'x.js']);
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toContain('--ready-timeout soon: expected a duration like 30s');
    const badCount = await cli(['run', '--max-restarts', 'ten', '--', 'node', 'x.js']);
    expect(badCount.code).toBe(2);
    expect(badCount.stderr).toContain('--max-restarts ten: expected a whole number');
    const noWorker = await cli(['run', '--listen', 'web=127.0.0.1:1', '--']);
    expect(noWorker.code).toBe(2);
    expect(noWorker.stderr).toContain('No worker command');
    const unknown = await cli(['restart']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "restart"');
    const dir = tempDir('gr-sup-none-');
    const none = await cli(['reload', '--control', `${dir}/none.sock`]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`No supervisor answers on ${dir}/none.sock (ENOENT)`);
  });

  it('a port already taken, or a control socket another supervisor answers on: exit 1, the first one untouched', async () => {
    const s = await supervise(APP);
    const { port } = s.endpoint as { port: number };
    const dir = tempDir('gr-sup-clash-');
    const portTaken = await cli([
      'run',
      '--listen',
      `web=127.0.0.1:${port}`,
      '--control',
      `${dir}/other.sock`,
      '--',
      process.execPath,
      'x.js',
    ]);
    expect(portTaken.code).toBe(1);
    expect(portTaken.stderr).toContain(`cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
    const freeOne = await freePort();
    const controlTaken = await cli([
      'run',
      '--listen',
      `web=127.0.0.1:${freeOne}`,
      '--control',
      s.control,
      '--',
      process.execPath,
      'x.js',
    ]);
    expect(controlTaken.code).toBe(1);
    expect(controlTaken.stderr).toContain(
      `Another supervisor answers on the control socket ${s.control}`,
    );
    // An unknown control command is answered with a typed error and changes nothing.
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = createConnection(s.control, () => socket.write('{"type":"restart"}\n'));
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk;
      });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(JSON.parse(reply)).toMatchObject({ ok: false, code: 'ERR_GRACEFUL_UNKNOWN_COMMAND' });
    expect(JSON.parse(reply).message).toContain('use reload, status or stop');
    // The running supervisor still serves and answers on its control socket.
    expect((await status(s)).supervisorPid).toBe(s.supervisorPid);
    expect(pidIn((await get(s.endpoint)).body)).toBeGreaterThan(0);
  });
});
