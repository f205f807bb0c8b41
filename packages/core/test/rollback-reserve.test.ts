// The duplicates a generation holds for a rollback: taken once, claimed once, dropped otherwise.
// The duplicating is the rollback tests' (real helper processes); here only the bookkeeping.
import { describe, expect, it } from 'vitest';
import { RollbackReserve } from '../src/generation/rollback-reserve.js';
import type { HeldHandle } from '../src/sockets/duplicate.js';
import { recordingLogger } from './helpers/log.js';

function handles(closed: number[], ...fds: number[]): HeldHandle[] {
  return fds.map((fd) => ({ fd, close: () => closed.push(fd) }));
}

describe('the rollback reserve', () => {
  it('takes the duplicates once however often prepared, and hands them to one claim', async () => {
    const closed: number[] = [];
    let takes = 0;
    const reserve = new RollbackReserve(async () => {
      takes += 1;
      return handles(closed, 10, 11);
    }, recordingLogger());
    reserve.prepare();
    reserve.prepare();
    expect((await reserve.claim())?.map((h) => h.fd)).toEqual([10, 11]);
    expect(await reserve.claim()).toBeUndefined();
    expect(takes).toBe(1);
    expect(closed).toEqual([]);
  });

  it('drop closes what it holds and stops a take under way', async () => {
    const closed: number[] = [];
    let aborted = false;
    const reserve = new RollbackReserve(
      (signal) =>
        new Promise((resolve) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve(handles(closed, 12));
          });
        }),
      recordingLogger(),
    );
    reserve.prepare();
    await reserve.drop();
    expect(aborted).toBe(true);
    expect(closed).toEqual([12]);
  });

  it('a failed take warns, and the next prepare tries again', async () => {
    const log = recordingLogger();
    let attempt = 0;
    const reserve = new RollbackReserve(async () => {
      attempt += 1;
      if (attempt === 1) throw new Error('helper failed');
      return handles([], 13);
    }, log);
    reserve.prepare();
    expect(await reserve.claim()).toBeUndefined();
    expect(log.lines).toEqual([
      'warn: no rollback possible until the sockets are held: helper failed',
    ]);
    reserve.prepare();
    expect((await reserve.claim())?.map((h) => h.fd)).toEqual([13]);
  });
});
