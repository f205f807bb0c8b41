// When a worker under `--workers N` steps back after an accept: in bursts, within a budget.
import { describe, expect, it } from 'vitest';
import { BurstBudget } from '../src/sockets/spread.js';

const MS = 1_000_000n;
const US = 1_000n;

describe('the burst budget', () => {
  it('steps back only for an accept within 200 µs of the previous one', () => {
    const budget = new BurstBudget();
    const t = 10_000n * MS;
    expect(budget.accept(t)).toBe(false);
    expect(budget.accept(t + 150n * US)).toBe(true);
    budget.steppedBack(t + 150n * US, t + 200n * US);
    // Measured from the end of the step back.
    expect(budget.accept(t + 500n * US)).toBe(false);
    expect(budget.accept(t + 10n * MS)).toBe(false);
  });

  it('steps back at most 20 ms a second, and again in the next second', () => {
    const budget = new BurstBudget();
    let t = 10_000n * MS;
    budget.accept(t);
    let pauses = 0;
    // A flood: an accept every 100 µs, each step back taking 1 ms.
    for (let i = 0; i < 100; i++) {
      t += 100n * US;
      if (budget.accept(t)) {
        pauses += 1;
        budget.steppedBack(t, t + MS);
        t += MS;
      }
    }
    expect(pauses).toBe(20);
    t += 1000n * MS;
    budget.accept(t);
    expect(budget.accept(t + 100n * US)).toBe(true);
  });
});
