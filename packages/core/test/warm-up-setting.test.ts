// Which warm-up paths apply: the option, else GRACEFUL_RESTART_WARM_UP, else none; each bad
// input refused with a typed error that names the fix.
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../src/errors.js';
import { resolveWarmUp, WARM_UP_ENV } from '../src/warm-up-setting.js';

const refused = (option: unknown, env: NodeJS.ProcessEnv = {}) => {
  try {
    resolveWarmUp(option, env);
  } catch (error) {
    expect((error as { code: string }).code).toBe(ErrorCodes.INVALID_OPTION);
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('which warm-up applies', () => {
  it('the option wins over the variable; false turns both off; neither is none', () => {
    const env = { [WARM_UP_ENV]: '/a' };
    expect(resolveWarmUp({ paths: ['/b'], requests: 5 }, env)).toEqual({
      paths: ['/b'],
      requests: 5,
    });
    expect(resolveWarmUp({ paths: ['/b'] }, env)).toEqual({ paths: ['/b'], requests: 50 });
    expect(resolveWarmUp(false, env)).toEqual({ paths: [], requests: 0 });
    expect(resolveWarmUp(undefined, {})).toEqual({ paths: [], requests: 0 });
    expect(resolveWarmUp(undefined, { [WARM_UP_ENV]: ' ' })).toEqual({ paths: [], requests: 0 });
  });

  it('the variable: paths separated by commas, spaces around them ignored, a query kept', () => {
    expect(resolveWarmUp(undefined, { [WARM_UP_ENV]: '/, /api/items?limit=1' })).toEqual({
      paths: ['/', '/api/items?limit=1'],
      requests: 50,
    });
  });

  it('refuses what is not a path list, or a request count out of range, naming the fix', () => {
    expect(refused(undefined, { [WARM_UP_ENV]: 'items' })).toContain(
      `${WARM_UP_ENV} must be paths starting with "/"`,
    );
    expect(refused(['/'])).toContain('warmUp must be false or { paths }');
    expect(refused({ paths: [] })).toContain("e.g. { paths: ['/', '/api/items'] }");
    expect(refused({ paths: ['/a b'] })).toContain('warmUp must be false or { paths }');
    expect(refused(true)).toContain('(got boolean true)');
    expect(refused({ paths: ['/'], requests: 0 })).toContain(
      'warmUp.requests must be a whole number from 1 to 10000',
    );
    expect(refused({ paths: ['/'], requests: 2.5 })).toContain('(got number 2.5)');
  });
});
