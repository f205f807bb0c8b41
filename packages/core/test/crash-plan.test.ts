// What a crash leads to, decided from the table's answer and the facts (crash.ts).
import { describe, expect, it } from 'vitest';
import { CRASH_BUDGET, type CrashFacts, crashPlan } from '../src/generation/crash.js';
import { transition } from '../src/generation/state.js';

const steady: CrashFacts = {
  predecessorGone: true,
  supervised: false,
  canRestart: true,
  servedMs: 60_000,
  probationMs: 2000,
  recentHandovers: 0,
};
const serving = transition('serving', 'crash');

describe('a crash', () => {
  it('of a generation that serves steadily hands over (direct and supervised)', () => {
    expect(crashPlan(serving, steady)).toEqual({ action: 'hand-over' });
    expect(crashPlan(transition('restarting', 'crash'), steady)).toEqual({ action: 'hand-over' });
    expect(
      crashPlan(serving, { ...steady, supervised: true, servedMs: 0, recentHandovers: 99 }),
    ).toEqual({ action: 'hand-over' });
  });

  it('before ready exits at once: its start failed, whoever started it takes it from there', () => {
    for (const state of ['starting', 'taking-over'] as const) {
      expect(crashPlan(transition(state, 'crash'), steady)).toMatchObject({ action: 'exit-now' });
    }
  });

  it('while its predecessor is on probation exits at once, so that the predecessor rolls back', () => {
    expect(crashPlan(serving, { ...steady, predecessorGone: false })).toMatchObject({
      action: 'exit-now',
      why: expect.stringContaining('rollback'),
    });
    expect(
      crashPlan(serving, { ...steady, predecessorGone: false, supervised: true }),
    ).toMatchObject({ action: 'exit-now' });
  });

  it('already on its way out (a drain, a lame duck) drains and exits', () => {
    for (const state of ['draining', 'lame-duck', 'stopping', 'leaving', 'crashing'] as const) {
      expect(crashPlan(transition(state, 'crash'), steady)).toMatchObject({
        action: 'drain-and-exit',
      });
    }
  });

  it('in direct mode: not within its probation (at least 1 s), not past the budget, not where restarts are refused', () => {
    expect(crashPlan(serving, { ...steady, servedMs: 1999 })).toMatchObject({
      action: 'drain-and-exit',
      why: expect.stringContaining('within its probation (2000 ms)'),
    });
    expect(crashPlan(serving, { ...steady, probationMs: 0, servedMs: 999 })).toMatchObject({
      action: 'drain-and-exit',
    });
    expect(crashPlan(serving, { ...steady, probationMs: 0, servedMs: 1000 })).toEqual({
      action: 'hand-over',
    });
    const budget = CRASH_BUDGET.handovers;
    expect(crashPlan(serving, { ...steady, recentHandovers: budget - 1 })).toEqual({
      action: 'hand-over',
    });
    expect(crashPlan(serving, { ...steady, recentHandovers: budget })).toMatchObject({
      action: 'drain-and-exit',
      why: expect.stringContaining(`${budget + 1} crashes within 60 s`),
    });
    expect(crashPlan(serving, { ...steady, canRestart: false })).toMatchObject({
      action: 'drain-and-exit',
    });
  });
});
