// Bringing workers up for empty slots: backoff between attempts, giving up after the limit.
import { describe, expect, it } from 'vitest';
import { backoffMs, Recovery } from '../src/supervisor/recovery.js';
import { recordingLogger } from './helpers/log.js';

describe('supervisor backoff', () => {
  it('waits 100 ms before the first restart, doubling up to 10 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 20].map(backoffMs)).toEqual([
      100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000,
    ]);
  });
});

describe('recovery', () => {
  it('a first start tries at once; failures back off; after maxRestarts it gives up', async () => {
    const log = recordingLogger();
    const recovery = new Recovery(2, log, new AbortController().signal);
    let fills = 0;
    let gaveUpAfter: number | undefined;
    recovery.run(
      {
        needed: () => gaveUpAfter === undefined,
        fill: async () => {
          fills += 1;
        },
        giveUp: (failures) => {
          gaveUpAfter = failures;
        },
      },
      true,
    );
    await recovery.settled();
    expect([fills, gaveUpAfter, recovery.failures]).toEqual([3, 2, 2]);
    expect(log.lines).toEqual([
      'warn: starting a worker in 100 ms (attempt 1 of 2)',
      'warn: starting a worker in 200 ms (attempt 2 of 2)',
    ]);
  });

  it('runs one loop at a time; stops once no worker is needed; a worker that served long resets the count', async () => {
    const recovery = new Recovery(5, recordingLogger(), new AbortController().signal);
    let needed = 2;
    let fills = 0;
    const steps = {
      needed: () => needed > 0,
      fill: async () => {
        fills += 1;
        needed -= 1;
      },
      giveUp: () => undefined,
    };
    recovery.run(steps, true);
    recovery.run(steps, true);
    await recovery.settled();
    expect(fills).toBe(2);
    expect(recovery.failures).toBe(1);
    recovery.servedLong();
    expect(recovery.failures).toBe(0);
  });

  it('a stop cuts a backoff wait short: the loop ends before the wait would have', async () => {
    const stop = new AbortController();
    const recovery = new Recovery(10, recordingLogger(), stop.signal);
    let needed = true;
    let fills = 0;
    const fill = async () => {
      fills += 1;
    };
    recovery.run({ needed: () => needed, fill, giveUp: () => undefined }, false);
    needed = false;
    stop.abort();
    const backoff = new Promise((resolve) =>
      setTimeout(() => resolve('still waiting'), backoffMs(0)),
    );
    expect(await Promise.race([recovery.settled().then(() => 'ended'), backoff])).toBe('ended');
    expect(fills).toBe(0);
  });
});
