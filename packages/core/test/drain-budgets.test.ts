import { describe, expect, it } from 'vitest';
import { overTheCap } from '../src/generation/drain-budgets.js';

const drain = (pid: number, since: string) => ({
  pid,
  since,
  connections: 1,
  requestsInFlight: 1,
  deadline: '2026-01-01T00:01:00.000Z',
});

describe('overTheCap: which old generations a restart cuts', () => {
  const older = [
    drain(30, '2026-01-01T00:00:03.000Z'),
    drain(10, '2026-01-01T00:00:01.000Z'),
    drain(20, '2026-01-01T00:00:02.000Z'),
  ];
  it('none while the generation that now drains keeps the count within the cap', () => {
    expect(overTheCap(older, 4)).toEqual([]);
    expect(overTheCap([], 1)).toEqual([]);
  });
  it('the oldest first, as many as exceed the cap (whatever order they were reported in)', () => {
    expect(overTheCap(older, 3)).toEqual([10]);
    expect(overTheCap(older, 2)).toEqual([10, 20]);
    expect(overTheCap(older, 1)).toEqual([10, 20, 30]);
  });
});
