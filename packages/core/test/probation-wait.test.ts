// The old generation's wait for its successor's probation verdict.
import { describe, expect, it } from 'vitest';
import { ErrorCodes, GracefulRestartError } from '../src/errors.js';
import { ProbationWait } from '../src/generation/probation.js';
import type { Verdict } from '../src/handover/types.js';

const failed: Verdict = {
  passed: false,
  error: new GracefulRestartError(ErrorCodes.ROLLED_BACK, 'died on probation'),
};

describe('the wait for a probation verdict', () => {
  it('resolves with the verdict, passed or failed', async () => {
    const wait = new ProbationWait();
    expect(await wait.wait(Promise.resolve({ passed: true }))).toEqual({ passed: true });
    expect(await wait.wait(Promise.resolve(failed))).toBe(failed);
  });

  it('a shutdown during the probation ends the wait as passed: no rollback', async () => {
    const wait = new ProbationWait();
    const pending = wait.wait(new Promise<Verdict>(() => undefined));
    wait.end();
    expect(await pending).toEqual({ passed: true });
  });

  it('after a shutdown, a verdict still to come is not waited for', async () => {
    const wait = new ProbationWait();
    wait.end();
    const late = new Promise<Verdict>((resolve) => setTimeout(() => resolve(failed), 50));
    expect(await wait.wait(late)).toEqual({ passed: true });
  });
});
