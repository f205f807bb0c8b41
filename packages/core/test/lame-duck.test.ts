// The lame duck's decisions, with the balancer's signs and the environment given: when it ends
// early, which length applies, and whether it fits a stop budget. Readiness per state.
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../src/errors.js';
import { balancerMovedOff } from '../src/generation/lame-duck.js';
import type { State } from '../src/generation/state.js';
import { Health } from '../src/health.js';
import {
  LAME_DUCK_ENV,
  parseSystemdTime,
  resolveLameDuck,
  stopBudgetWarning,
} from '../src/lame-duck-setting.js';

describe('the lame duck ends early', () => {
  const signs = (msSinceToldTwice: number | undefined, msSinceTraffic: number, check?: number) => ({
    msSinceToldTwice,
    msSinceTraffic,
    checkIntervalMs: check,
  });

  it('only once readiness has said 503 twice', () => {
    expect(balancerMovedOff(signs(undefined, 60_000, 500))).toBe(false);
    expect(balancerMovedOff(signs(1_000, 1_000, 500))).toBe(true);
  });

  it('after two check intervals without traffic, at least 1 s, counted from the later of both', () => {
    expect(balancerMovedOff(signs(999, 5_000, 100))).toBe(false);
    expect(balancerMovedOff(signs(5_000, 999, 100))).toBe(false);
    expect(balancerMovedOff(signs(1_000, 1_000, 100))).toBe(true);
    // A balancer that checks every 2 s: 4 s of quiet.
    expect(balancerMovedOff(signs(3_999, 10_000, 2_000))).toBe(false);
    expect(balancerMovedOff(signs(4_000, 4_000, 2_000))).toBe(true);
  });
});

describe('which lame duck applies', () => {
  it('the option, else the variable, else the platform, else none; each says why', () => {
    expect(resolveLameDuck(2500, { [LAME_DUCK_ENV]: '100' })).toEqual({
      ms: 2500,
      why: 'the lameDuckMs option',
    });
    expect(
      resolveLameDuck(undefined, { [LAME_DUCK_ENV]: '100', KUBERNETES_SERVICE_HOST: 'x' }),
    ).toEqual({ ms: 100, why: LAME_DUCK_ENV });
    expect(resolveLameDuck(undefined, { KUBERNETES_SERVICE_HOST: '10.0.0.1' })).toEqual({
      ms: 5000,
      why: "Kubernetes's default (KUBERNETES_SERVICE_HOST is set)",
      signalsOnly: true,
    });
    expect(resolveLameDuck(undefined, { NOMAD_ALLOC_ID: 'a1' }).ms).toBe(5000);
    expect(resolveLameDuck(undefined, {}).ms).toBe(0);
    expect(resolveLameDuck(undefined, {}).why).toContain(LAME_DUCK_ENV);
    // 0 turns a platform's default off.
    expect(resolveLameDuck(0, { KUBERNETES_SERVICE_HOST: 'x' }).ms).toBe(0);
    expect(
      resolveLameDuck(undefined, { [LAME_DUCK_ENV]: '0', KUBERNETES_SERVICE_HOST: 'x' }).ms,
    ).toBe(0);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, '5000', null])(
    'refuses lameDuckMs %s with a typed error naming it',
    (value) => {
      expect(() => resolveLameDuck(value, {})).toThrow(
        expect.objectContaining({
          code: ErrorCodes.INVALID_OPTION,
          message: expect.stringContaining('lameDuckMs must be a non-negative number'),
        }),
      );
    },
  );

  it.each(['5s', '-1', 'abc', '1.5'])('refuses %s=%s with a typed error naming it', (text) => {
    expect(() => resolveLameDuck(undefined, { [LAME_DUCK_ENV]: text })).toThrow(
      expect.objectContaining({
        code: ErrorCodes.INVALID_OPTION,
        message: expect.stringContaining(`${LAME_DUCK_ENV} must be a whole number`),
      }),
    );
  });
});

describe("the platform's stop budget", () => {
  it('reads systemd times', () => {
    expect(parseSystemdTime('20s')).toBe(20_000);
    expect(parseSystemdTime('1min 30s')).toBe(90_000);
    expect(parseSystemdTime('500ms')).toBe(500);
    expect(parseSystemdTime('infinity')).toBeUndefined();
    expect(parseSystemdTime('')).toBeUndefined();
  });

  it('warns when lame duck, deadline and a second to exit overrun it, naming the fix', () => {
    const budget = { ms: 10_000, what: "app.service's TimeoutStopSec" };
    expect(stopBudgetWarning(1_000, 8_000, budget)).toBeUndefined();
    const warning = stopBudgetWarning(5_000, 8_000, budget);
    expect(warning).toContain("app.service's TimeoutStopSec of 10000 ms");
    expect(warning).toContain('at least 14000 ms');
  });
});

describe('readiness and liveness', () => {
  const healthIn = (state: State) => new Health(() => state);

  it('readiness says 503 before the first ready, in a lame duck and on the way out; 200 through a handover', () => {
    const answers = Object.fromEntries(
      (
        [
          'starting',
          'taking-over',
          'serving',
          'restarting',
          'draining',
          'lame-duck',
          'stopping',
          'leaving',
          'stopped',
        ] as const
      ).map((state) => [state, healthIn(state).readiness().body.status]),
    );
    expect(answers).toEqual({
      starting: 'starting',
      'taking-over': 'ok',
      serving: 'ok',
      restarting: 'ok',
      draining: 'ok',
      'lame-duck': 'lame duck',
      stopping: 'shutting down',
      leaving: 'shutting down',
      stopped: 'shutting down',
    });
    expect(healthIn('lame-duck').readiness().statusCode).toBe(503);
    expect(healthIn('lame-duck').liveness()).toMatchObject({
      statusCode: 200,
      body: { status: 'ok' },
    });
  });

  it("follows the app's setReady(), with its reason, and a framework's verdict", () => {
    const health = healthIn('serving');
    health.setReady(false, 'database unreachable');
    expect(health.readiness()).toMatchObject({
      statusCode: 503,
      body: { status: 'not ready', reason: 'database unreachable' },
    });
    expect(health.ready).toBe(false);
    health.setReady(true);
    expect(health.readiness().statusCode).toBe(200);
    expect(health.readiness('under pressure')).toMatchObject({
      statusCode: 503,
      body: { status: 'not ready', reason: 'under pressure' },
    });
  });

  it('refuses setReady() once shutdown began, and a value that is not a boolean', () => {
    expect(() => healthIn('lame-duck').setReady(true)).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_STATE }),
    );
    expect(() => healthIn('serving').setReady('yes' as unknown as boolean)).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }),
    );
    expect(() => healthIn('serving').setReady(false, 42 as unknown as string)).toThrow(
      expect.objectContaining({
        code: ErrorCodes.INVALID_OPTION,
        message: expect.stringContaining("setReady(false, 'database unreachable')"),
      }),
    );
  });

  it('counts the checks and the 503s, and times the interval between readiness checks', async () => {
    const health = healthIn('lame-duck');
    health.readiness();
    await new Promise((resolve) => setTimeout(resolve, 30));
    health.readiness();
    health.liveness();
    expect(health.checks).toBe(3);
    expect(health.notReadyAnswers).toBe(2);
    expect(health.checkIntervalMs).toBeGreaterThanOrEqual(25);
  });
});
