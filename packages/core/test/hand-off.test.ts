// What a generation hands the next: onHandOff()'s value as it travels, or nothing with a warning.
import { describe, expect, it } from 'vitest';
import { handOffValue } from '../src/generation/hand-off.js';
import { recordingLogger } from './helpers/log.js';

describe('the hand-off value', () => {
  it('is a JSON copy of what the provider gives, sync or async; nothing without a provider', async () => {
    const log = recordingLogger();
    const given = { totals: { requests: 3 }, at: new Date(0) };
    expect(await handOffValue(() => given, log)).toEqual({
      totals: { requests: 3 },
      at: '1970-01-01T00:00:00.000Z',
    });
    expect(await handOffValue(async () => [1, 2], log)).toEqual([1, 2]);
    expect(await handOffValue(() => undefined, log)).toBeUndefined();
    expect(await handOffValue(undefined, log)).toBeUndefined();
    expect(log.lines).toEqual([]);
  });

  it('is nothing, with a warning saying why, when the provider throws, gives too much or is late', async () => {
    const log = recordingLogger();
    expect(
      await handOffValue(() => {
        throw new Error('no state today');
      }, log),
    ).toBeUndefined();
    expect(await handOffValue(() => 'x'.repeat(49 * 1024), log)).toBeUndefined();
    expect(await handOffValue(() => new Promise(() => undefined), log, 20)).toBeUndefined();
    expect(log.lines).toEqual([
      'warn: onHandOff: nothing handed to the next generation: no state today',
      expect.stringMatching(
        /^warn: onHandOff: nothing handed .*: its JSON is 50178 bytes, over 49152$/,
      ),
      'warn: onHandOff: nothing handed to the next generation: no value within 20 ms',
    ]);
  });
});
