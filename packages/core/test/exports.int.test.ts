import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packagesDir = fileURLToPath(new URL('../../', import.meta.url));
/** What each package must export, as a JS expression over the loaded module `m`. */
const probes: Record<string, string> = {
  core: '[typeof m.createGraceful, typeof m.ErrorCodes, typeof m.Supervisor, typeof m.sendControl]',
  fastify: '[typeof m.gracefulRestart, m.default === m.gracefulRestart, typeof m.ErrorCodes]',
  express: '[typeof m.expressGraceful, m.default === m.expressGraceful, typeof m.ErrorCodes]',
  koa: '[typeof m.koaGraceful, m.default === m.koaGraceful, typeof m.ErrorCodes]',
  hono: '[typeof m.honoGraceful, m.default === m.honoGraceful, typeof m.ErrorCodes]',
};
const expected: Record<string, string> = {
  core: 'function,object,function,function',
  fastify: 'function,true,object',
  express: 'function,true,object',
  koa: 'function,true,object',
  hono: 'function,true,object',
};
const names = Object.keys(probes);

// Each package resolves itself by name (package self-reference through "exports"), exactly as a
// user's `import` or `require()` would, from the built dist/.
function load(name: string, how: 'import' | 'require'): string {
  const probe = probes[name] as string;
  const code =
    how === 'require'
      ? `const m = require('@graceful-restart/${name}'); console.log(String(${probe}))`
      : `import('@graceful-restart/${name}').then((m) => console.log(String(${probe})))`;
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
    expect(load(name, how)).toBe(expected[name]);
  });
});
