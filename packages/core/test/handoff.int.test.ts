// What one generation tells the next: onHandOff() data, the restart that made it serve
// ('took-over') and the drain of the one it replaced ('predecessor-drained'). Direct restarts
// and the supervisor (one slot's worker to the next). Real processes and signals.
import { describe, expect, it } from 'vitest';
import { freePort } from './helpers/http.js';
import { Fixture, type FixtureEvent, tempDir, waitUntil } from './helpers/process.js';
import { cli, runArgs } from './helpers/supervisor.js';

const SERVER = new URL('./fixtures/server.mjs', import.meta.url).pathname;
const OPTIONS = JSON.stringify({ probationMs: 200 });

const from = (f: Fixture, event: string, pid: number) =>
  f.waitFor((e) => e.event === event && e.pid === pid, 10_000);

describe('hand-off between generations', () => {
  it('direct: every generation gets the chain of the ones before it, the restart that made it serve, and its predecessor drain report', async () => {
    const f = new Fixture(SERVER, { FIXTURE_OPTIONS: OPTIONS, FIXTURE_HAND_OFF: 'chain' });
    const first = (await f.waitFor((e) => e.event === 'ready')).pid;
    expect((await from(f, 'handed-off', first))['data']).toBeNull();
    const second = (await f.restart(first)).pid;
    const third = (await f.restart(second)).pid;
    expect((await from(f, 'handed-off', second))['data']).toEqual({ chain: [first] });
    expect((await from(f, 'handed-off', third))['data']).toEqual({ chain: [first, second] });
    const tookOver = await from(f, 'took-over', third);
    expect(tookOver).toMatchObject({ oldPid: second, newPid: third });
    expect(tookOver['durationMs']).toEqual(expect.any(Number));
    // The drain report arrives once the old generation is done (after its probation).
    const drained = await from(f, 'predecessor-drained', third);
    const ownReport = await from(f, 'drained', second);
    const { event: _a, pid: _b, ...report } = ownReport;
    expect(drained).toMatchObject(report);
    // A first generation took over from nobody.
    expect(f.events.some((e) => e.event === 'took-over' && e.pid === first)).toBe(false);
    await f.kill();
  });

  it('a crash hands off too: the chain goes on, the new generation took over with cause crash', async () => {
    const f = new Fixture(SERVER, {
      FIXTURE_OPTIONS: JSON.stringify({ probationMs: 0 }),
      FIXTURE_HAND_OFF: 'chain',
    });
    const ready = await f.waitFor((e) => e.event === 'ready');
    const port = (ready['listeners'] as Array<{ port: number }>)[0]?.port as number;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    void fetch(`http://127.0.0.1:${port}/boom`).catch(() => undefined);
    const next = await f.waitFor((e) => e.event === 'ready' && e.pid !== ready.pid, 10_000);
    f.pids.add(next.pid);
    expect((await from(f, 'handed-off', next.pid))['data']).toEqual({ chain: [ready.pid] });
    expect(await from(f, 'took-over', next.pid)).toMatchObject({
      oldPid: ready.pid,
      newPid: next.pid,
      cause: 'crash',
    });
    await f.kill();
  });

  it.each([
    ['throw', 'throws'],
    ['huge', 'gives too much'],
  ])(
    'direct: a provider that %s (%s) hands nothing, says why, and the restart goes on',
    async (kind) => {
      const f = new Fixture(SERVER, {
        FIXTURE_OPTIONS: OPTIONS,
        FIXTURE_HAND_OFF: kind,
        FIXTURE_DEBUG: '1',
      });
      const first = (await f.waitFor((e) => e.event === 'ready')).pid;
      const second = (await f.restart(first)).pid;
      expect((await from(f, 'handed-off', second))['data']).toBeNull();
      // The warning is the old generation's stderr; the event above the new one's stdout: two
      // pipes, so either may be read first.
      const warned = (line: string) => line.includes('onHandOff: nothing handed');
      expect(await waitUntil(() => f.stderr.some(warned), 5000)).toBe(true);
      expect(f.stderr.find(warned)).toContain(kind === 'throw' ? 'no state today' : 'over 49152');
      await f.kill();
    },
  );

  it('supervised --workers 2: each new worker gets what the worker of its slot handed off, and its drain report', async () => {
    const dir = tempDir('gr-handoff-');
    const port = await freePort();
    const control = `${dir}/control.sock`;
    const f = new Fixture(
      SERVER,
      {
        FIXTURE_OPTIONS: OPTIONS,
        FIXTURE_HAND_OFF: 'chain',
        FIXTURE_LISTENERS: JSON.stringify([{ name: 'web', port, host: '127.0.0.1' }]),
        GRACEFUL_RESTART_PROBATION_MS: '200',
      },
      process.execPath,
      runArgs(port, control, ['--workers', '2']),
    );
    const readyPids = async (count: number) => {
      await f.waitFor(() => f.events.filter((e) => e.event === 'ready').length >= count);
      return f.events.filter((e) => e.event === 'ready').map((e) => e.pid);
    };
    const firstSet = await readyPids(2);
    const reload = await cli(['reload', '--control', control]);
    expect(reload.code, reload.stderr).toBe(0);
    const secondSet = (await readyPids(4)).slice(2);
    const handedTo = new Map<number, FixtureEvent>();
    for (const pid of secondSet) handedTo.set(pid, await from(f, 'handed-off', pid));
    // Slot by slot: the new worker's chain is the old worker of its slot (took-over says which).
    for (const pid of secondSet) {
      const { oldPid } = await from(f, 'took-over', pid);
      expect(firstSet).toContain(oldPid);
      expect(handedTo.get(pid)?.['data']).toEqual({ chain: [oldPid] });
      const drained = await from(f, 'predecessor-drained', pid);
      expect(drained['deadlineReached']).toBe(false);
    }
    const stop = await cli(['stop', '--control', control]);
    expect(stop.code, stop.stderr).toBe(0);
    await f.kill();
  });
});
