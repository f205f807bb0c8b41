import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packagesDir = fileURLToPath(new URL('../../', import.meta.url));
const names = ['core', 'fastify', 'express', 'koa'];

// Each package resolves itself by name (package self-reference through "exports"), exactly as a
// user's `import` or `require()` would, from the built dist/.
function load(name: string, how: 'import' | 'require'): string {
  const code =
    how === 'require'
      ? `const m = require('@graceful-restart/${name}'); console.log(typeof m.createGraceful, typeof m.ErrorCodes)`
      : `import('@graceful-restart/${name}').then((m) => console.log(typeof m.createGraceful, typeof m.ErrorCodes))`;
  return execFileSync(process.execPath, ['-e', code], {
    cwd: `${packagesDir}${name}`,
    encoding: 'utf8',
  }).trim();
}

describe('built packages load both ways', () => {
  it.each(
    names.flatMap(
      (n) =>
        [
          [n, 'import'],
          [n, 'require'],
        ] as const,
    ),
  )('%s via %s', (name, how) => {
    expect(load(name, how)).toBe('function object');
  });
});
