// Each example, unchanged, under the stable-PID supervisor (`graceful-restart run`).
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { pidIn } from '../../../packages/core/test/helpers/http.js';
import { HttpLoad, stopAllOk } from '../../../packages/core/test/helpers/load.js';
import {
  isAlive,
  sleep,
  waitForExit,
  waitUntil,
} from '../../../packages/core/test/helpers/process.js';
import { requestInFlight } from '../../../packages/core/test/helpers/raw-http.js';
import { cli, EXAMPLES, endAll, loopsFor } from '../examples.js';
import { childrenOf, nextServing, procStat, status, supervise } from '../supervised.js';

afterEach(endAll);

describe.each(EXAMPLES)('examples/%s: a stop signal to the whole process group', (example) => {
  // systemd's default KillMode=control-group, and Ctrl-C in a terminal, signal the supervisor
  // and its worker at once: the worker must not take the supervisor's stop as a second signal.
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s to the group drains as one to the supervisor: the request in flight is answered, every process exits 0',
    async (signal) => {
      const s = await supervise(example, { detached: true });
      const worker = (await status(s)).servingPid;
      const { port } = s.endpoint as { port: number };
      const slow = await requestInFlight(port, '/slow?ms=1500');
      const group = s.f.first.pid as number;
      process.kill(-group, signal);
      const answer = await slow.answer;
      expect(answer.status).toBe(200);
      expect(pidIn(answer.body)).toBe(worker);
      expect(await waitForExit(s.f.first)).toEqual({ code: 0, signal: null });
      expect(await waitUntil(() => !isAlive(worker), 5000)).toBe(true);
      const lines = s.f.stderr.join('\n');
      expect(lines).not.toMatch(/again: exiting now/);
      expect(lines).toMatch(new RegExp(`worker pid ${worker} exited \\(exit code 0\\)`));
    },
  );
});

describe.each(EXAMPLES)('examples/%s under graceful-restart run', (example) => {
  const reloads = loopsFor(example, 20, 9);
  it(`${reloads} reloads (SIGHUP to the supervisor, \`reload\`, SIGHUP to the worker) under keep-alive load: 0 failed requests, one supervisor pid, every old worker reaped`, async () => {
    // A short probation keeps the `reload` command (which waits for it) quick.
    const s = await supervise(example, { args: ['--probation', '500ms'] });
    const { port } = s.endpoint as { port: number };
    const load = new HttpLoad({ port, connections: 30, keepAlive: true });
    let serving = (await status(s)).servingPid;
    const workers = [serving];
    for (let i = 0; i < reloads; i++) {
      const way = i % 3;
      if (way === 0) process.kill(s.supervisorPid, 'SIGHUP');
      if (way === 2) process.kill(serving, 'SIGHUP');
      if (way === 1) {
        const reload = await cli(['reload', '--control', s.control]);
        expect(reload.code, reload.stderr).toBe(0);
        expect(reload.stdout).toMatch(new RegExp(`replaced ${serving}\\)`));
      }
      serving = await nextServing(s, serving);
      workers.push(serving);
    }
    await sleep(300);
    const stats = await stopAllOk(load);
    expect(new Set(workers).size).toBe(reloads + 1);
    // The last worker answered; the supervisor never changed and is the PID file's pid.
    expect(stats.pids.get(serving)).toBeGreaterThan(0);
    expect(stats.pids.has(s.supervisorPid)).toBe(false);
    expect(readFileSync(s.pidFile, 'utf8')).toBe(`${s.supervisorPid}\n`);
    const final = await status(s);
    expect(final.supervisorPid).toBe(s.supervisorPid);
    expect(final.reloads).toBe(reloads);
    // Old workers exited and were reaped by the supervisor: gone from /proc, not zombies.
    expect(
      await waitUntil(() => workers.slice(0, -1).every((pid) => procStat(pid) === undefined), 5000),
    ).toBe(true);
    expect(childrenOf(s.supervisorPid).map((c) => c.pid)).toEqual([serving]);
    const stop = await cli(['stop', '--control', s.control]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(await waitForExit(s.f.first)).toEqual({ code: 0, signal: null });
    expect(existsSync(s.control)).toBe(false);
    expect(existsSync(s.pidFile)).toBe(false);
  });
});
