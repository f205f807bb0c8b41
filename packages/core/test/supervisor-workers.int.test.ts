// `graceful-restart run --workers`: the count, and reloads that fail keep every old worker.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { get, pidIn } from './helpers/http.js';
import { HttpLoad, stopAllOk } from './helpers/load.js';
import { tempDir, waitUntil } from './helpers/process.js';
import {
  childrenOf,
  cli,
  everyWorkerAnswers,
  nextServingSet,
  procStat,
  status,
  supervise,
} from './helpers/supervisor.js';

const APP = new URL('./fixtures/app/app.mjs', import.meta.url).pathname;
const START_FAILS_ONCE = new URL('./fixtures/start-fails-once.mjs', import.meta.url).pathname;

const TWO = ['--workers', '2'];
const sorted = (pids: number[]) => [...pids].sort((a, b) => a - b);

describe('graceful-restart run --workers: the count', () => {
  it('auto starts one worker per available CPU; 0 is a usage error (exit 2) naming the flag', async () => {
    const s = await supervise(APP, { args: ['--workers', 'auto'] });
    const now = await status(s);
    expect(now.workerCount).toBe(availableParallelism());
    await everyWorkerAnswers(s.endpoint, now.servingPids);
    const bad = await cli(['run', '--workers', '0', '--', process.execPath, 'app.js']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--workers 0: expected 1 or more, or auto');
  });
});

describe('graceful-restart run --workers 2: reloads that fail keep every old worker serving', () => {
  it('a broken config: `reload` exits 1, both old workers serve on, no new worker is left', async () => {
    const dir = tempDir('gr-workers-config-');
    const config = `${dir}/config.json`;
    writeFileSync(config, '{"greeting":"hello"}');
    const s = await supervise(APP, { args: TWO, env: { CONFIG_FILE: config } });
    const before = (await status(s)).servingPids;
    writeFileSync(config, '{"greeting": ');
    const failed = await cli(['reload', '--control', s.control]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/reload failed \(ERR_GRACEFUL_CHILD_EXITED\).*exit code 1/);
    await everyWorkerAnswers(s.endpoint, before);
    expect((await get(s.endpoint)).body).toMatch(/^hello from pid=/);
    const after = await status(s);
    expect(after.servingPids).toEqual(before);
    expect(after.lastReload).toMatchObject({ ok: false });
    expect(sorted(childrenOf(s.supervisorPid).map((c) => c.pid))).toEqual(sorted(before));
  });

  it('one new worker fails after the other said ready: the ready one is stopped with its requests answered, the old set serves on', async () => {
    const dir = tempDir('gr-workers-once-');
    const s = await supervise(START_FAILS_ONCE, {
      args: TWO,
      env: { FAIL_ONCE: `${dir}/fail-once`, FAIL_AFTER_MS: '1500' },
    });
    const before = (await status(s)).servingPids;
    const { port } = s.endpoint as { port: number };
    const load = new HttpLoad({ port, connections: 20, keepAlive: false });
    writeFileSync(`${dir}/fail-once`, '');
    const failed = await cli(['reload', '--control', s.control]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/reload failed \(ERR_GRACEFUL_CHILD_EXITED\)/);
    const stats = await stopAllOk(load);
    // The new worker that was ready accepted connections meanwhile, and answered them.
    const served = [...stats.pids.keys()].filter((pid) => !before.includes(pid));
    expect(served).toHaveLength(1);
    expect(await waitUntil(() => procStat(served[0] as number) === undefined, 5000)).toBe(true);
    expect(s.f.stderr.join('\n')).toMatch(/failing this start on purpose/);
    expect((await status(s)).servingPids).toEqual(before);
    await everyWorkerAnswers(s.endpoint, before);
    // The next reload (nothing fails now) replaces both.
    const ok = await cli(['reload', '--control', s.control]);
    expect(ok.code, ok.stderr).toBe(0);
    const next = await nextServingSet(s, before);
    expect(pidIn((await get(s.endpoint)).body)).toSatisfy((pid: number) => next.includes(pid));
  });
});
