import { afterEach } from 'vitest';
import { createGraceful, type Graceful } from '../../src/generation/graceful.js';
import type { GracefulOptions } from '../../src/options.js';

/**
 * createGraceful() for unit tests, in a test file's scope: the instances a test creates are
 * released after it (one Graceful per process may handle signals).
 */
export function releasedAfterEach(): (options?: GracefulOptions) => Graceful {
  const made: Graceful[] = [];
  afterEach(() => {
    for (const graceful of made.splice(0)) graceful.uninstall();
  });
  return (options) => {
    const graceful = createGraceful(options);
    made.push(graceful);
    return graceful;
  };
}
