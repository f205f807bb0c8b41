import { describe, expect, it } from 'vitest';
import { backoffMs } from '../src/supervisor.js';

describe('supervisor backoff', () => {
  it('waits 100 ms before the first restart, doubling up to 10 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 20].map(backoffMs)).toEqual([
      100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000,
    ]);
  });
});
