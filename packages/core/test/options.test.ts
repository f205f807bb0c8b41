import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../src/defaults.js';
import { resolveOptions } from '../src/options.js';

// The defaults the READMEs and `graceful-restart --help` document, once.
describe('defaults', () => {
  it('are the documented values', () => {
    expect(DEFAULTS).toMatchObject({
      readyTimeoutMs: 30_000,
      deadlineMs: 8_000,
      idleGraceMs: 1_500,
      keepAliveHint: true,
      exitProcess: true,
      restartSignals: ['SIGHUP', 'SIGUSR2'],
      shutdownSignals: ['SIGTERM', 'SIGINT'],
      supervisorStopSignals: ['SIGTERM', 'SIGINT', 'SIGQUIT'],
      listenerName: 'web',
      host: '127.0.0.1',
      minBacklog: 1024,
      fallbackBacklog: 4096,
      killGraceMs: 2_000,
      maxRestarts: 10,
      backoffBaseMs: 100,
      backoffMaxMs: 10_000,
      stableAfterMs: 10_000,
      adminPath: '/graceful',
      adminAllow: ['127.0.0.0/8', '::1/128'],
      adminRateLimit: { max: 10, windowMs: 60_000 },
    });
  });

  it('fill every option a generation leaves out', () => {
    const resolved = resolveOptions({ logger: false });
    expect(resolved).toMatchObject({
      readyTimeoutMs: DEFAULTS.readyTimeoutMs,
      drain: {
        deadlineMs: DEFAULTS.deadlineMs,
        idleGraceMs: DEFAULTS.idleGraceMs,
        keepAliveHint: DEFAULTS.keepAliveHint,
        closeConnection: undefined,
      },
      signals: {},
      pidFile: undefined,
      command: undefined,
      exitProcess: DEFAULTS.exitProcess,
    });
  });

  it('keep what the user gave', () => {
    const closeConnection = () => undefined;
    const resolved = resolveOptions({
      readyTimeoutMs: 5,
      drain: { deadlineMs: 6, idleGraceMs: 7, keepAliveHint: false, closeConnection },
      signals: false,
      pidFile: '/run/app.pid',
      exitProcess: false,
      logger: false,
    });
    expect(resolved).toMatchObject({
      readyTimeoutMs: 5,
      drain: { deadlineMs: 6, idleGraceMs: 7, keepAliveHint: false, closeConnection },
      signals: false,
      pidFile: '/run/app.pid',
      exitProcess: false,
    });
  });
});
