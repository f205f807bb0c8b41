import { describe, expect, it } from 'vitest';
import { ReloadBatches } from '../src/supervisor/reload-batches.js';
import type { Worker } from '../src/supervisor/workers.js';

const worker = (slot: number, release: string, pid = 100 + slot) =>
  ({ slot, release, pid, generation: 0 }) as Worker;

describe('ReloadBatches: a reload K slots at a time', () => {
  it('cuts N slots into batches of K in slot order; the last may be smaller; K >= N is one batch', () => {
    expect(new ReloadBatches([], 5, 2).batches).toEqual([[0, 1], [2, 3], [4]]);
    expect(new ReloadBatches([], 4, 1).batches).toEqual([[0], [1], [2], [3]]);
    expect(new ReloadBatches([], 3, 3).batches).toEqual([[0, 1, 2]]);
    expect(new ReloadBatches([], 3, 3).isBatched).toBe(false);
  });

  it('a passed batch whose new workers run another release lets its old ones go, remembering their release', () => {
    const old = [worker(0, '/r/1'), worker(1, '/r/1')];
    const run = new ReloadBatches(old, 2, 1);
    expect(run.oldIn([0])).toEqual([old[0]]);
    expect(run.passed([old[0] as Worker], [worker(0, '/r/2', 200)], true)).toBe('let-go');
    expect(run.letGo).toEqual([{ slot: 0, generation: 0, release: '/r/1' }]);
    expect(run.held).toEqual([]);
    expect(run.restoreBatches()).toEqual([[{ slot: 0, generation: 0, release: '/r/1' }]]);
  });

  it('code changed in place (the same directory): the old workers hold on, with the new ones in their slots', () => {
    const old = [worker(0, '/app'), worker(1, '/app')];
    const run = new ReloadBatches(old, 2, 1);
    const next = worker(0, '/app', 200);
    expect(run.passed([old[0] as Worker], [next], true)).toBe('hold');
    expect(run.held).toEqual([old[0]]);
    expect(run.heldNext).toEqual([next]);
    expect(run.restoreBatches()).toEqual([]);
  });

  it('in place without a probation (no rollback wanted): the old workers go, and nothing is to be restored', () => {
    const old = [worker(0, '/app'), worker(1, '/app')];
    const run = new ReloadBatches(old, 2, 1);
    expect(run.passed([old[0] as Worker], [worker(0, '/app', 200)], false)).toBe('let-go');
    expect(run.held).toEqual([]);
    expect(run.restoreBatches()).toEqual([]);
  });
});
