// systemd's socket activation variables, read once and removed.
import { describe, expect, it } from 'vitest';
import { takeSocketActivation } from '../src/sockets/activation.js';

describe('socket activation', () => {
  it('maps LISTEN_FDNAMES to names and removes the variables', () => {
    const env: NodeJS.ProcessEnv = {
      LISTEN_PID: String(process.pid),
      LISTEN_FDS: '2',
      LISTEN_FDNAMES: 'web:unknown',
    };
    expect(takeSocketActivation(env)).toEqual([
      { fd: 3, name: 'web' },
      { fd: 4, name: undefined },
    ]);
    expect(env).toEqual({});
  });
});
