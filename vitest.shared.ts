import { configDefaults, type TestProjectInlineConfiguration } from 'vitest/config';
import { testWorkers } from './examples/test/test-selection.js';

/**
 * Three vitest projects per package: `<name>:unit` (in-process, fast), `<name>:types`
 * (`*.test-d.ts`: the public types, checked by tsc against the built declarations) and
 * `<name>:integration` (`*.int.test.ts`: real processes, sockets and signals). CI runs the
 * integration projects again on the other supported Node lines.
 */
export function packageProjects(
  name: string,
  root = `packages/${name}`,
): TestProjectInlineConfiguration[] {
  return [
    {
      extends: false,
      test: {
        name: `${name}:unit`,
        root,
        include: ['test/**/*.test.ts'],
        exclude: ['test/**/*.int.test.ts'],
        maxWorkers: TEST_WORKERS,
      },
    },
    {
      extends: false,
      test: {
        name: `${name}:types`,
        root,
        typecheck: {
          enabled: true,
          only: true,
          include: ['test/**/*.test-d.ts'],
          tsconfig: './tsconfig.json',
        },
      },
    },
    integrationOnly(name, root),
  ];
}

/**
 * How many test files run at once (GR_TEST_WORKERS overrides). One integration file at a time
 * left the cores idle while it waited for restarts, probations and drains; three at a time
 * keep two cores mostly busy (`node scripts/test-timings.mjs` shows both). Each file's ports
 * come from a range of its worker's own (test/helpers/http.ts freePort), its files from
 * temporary directories of its own.
 */
export const TEST_WORKERS = testWorkers(process.env['GR_TEST_WORKERS']);

/** `<name>:integration`: `*.int.test.ts` files with real processes, sockets and signals. */
export function integrationOnly(
  name: string,
  root = name,
  exclude: string[] = [],
): TestProjectInlineConfiguration {
  return {
    extends: false,
    test: {
      name: `${name}:integration`,
      root,
      include: ['test/**/*.int.test.ts'],
      exclude: [...configDefaults.exclude, ...exclude],
      testTimeout: 120_000,
      hookTimeout: 30_000,
      maxWorkers: TEST_WORKERS,
    },
  };
}
