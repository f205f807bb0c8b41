// One Graceful that handles signals per process.
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../src/errors.js';
import { releasedAfterEach } from './helpers/graceful.js';

const createGraceful = releasedAfterEach();
const quiet = () => createGraceful({ signals: false, logger: false });

describe('one instance per process', () => {
  it('instances with signals: false coexist (tests, embedding); one that handles signals is refused beside them, until they are released', () => {
    const a = quiet();
    const b = quiet();
    expect([a.state, b.state]).toEqual(['starting', 'starting']);
    expect(() => createGraceful({ logger: false, exitProcess: false })).toThrow(
      expect.objectContaining({ code: ErrorCodes.DUPLICATE_INSTANCE }),
    );
    a.uninstall();
    b.uninstall();
    const alone = createGraceful({ logger: false, exitProcess: false });
    expect(alone.state).toBe('starting');
    expect(() => quiet()).toThrow(expect.objectContaining({ code: ErrorCodes.DUPLICATE_INSTANCE }));
  });
});
