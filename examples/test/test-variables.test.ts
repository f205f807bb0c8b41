// GR_EXAMPLES / GR_EXAMPLE and GR_TEST_WORKERS: bad values are refused with an error naming them.
import { describe, expect, it } from 'vitest';
import { ALL_EXAMPLES, examplesFrom, testWorkers } from './test-selection.js';

describe('the variables that choose what the tests run', () => {
  it('examples: unset means every example; a list is kept in its order; an unknown name is refused', () => {
    expect(examplesFrom(undefined)).toEqual(ALL_EXAMPLES);
    expect(examplesFrom('fastify,http')).toEqual(['fastify', 'http']);
    expect(() => examplesFrom('http,flask')).toThrow(
      'Unknown example "flask": expected one of http, fastify, express, koa, nestjs, hono',
    );
  });

  it('workers: unset means 3; anything but a whole number of 1 or more is refused', () => {
    expect(testWorkers(undefined)).toBe(3);
    expect(testWorkers('1')).toBe(1);
    for (const bad of ['0', '-2', '1.5', 'many', '']) {
      expect(() => testWorkers(bad)).toThrow(
        `GR_TEST_WORKERS must be a whole number of 1 or more (got "${bad}")`,
      );
    }
  });
});
