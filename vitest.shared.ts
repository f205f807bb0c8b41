import { configDefaults, type TestProjectInlineConfiguration } from 'vitest/config';

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
 * How many test files run at once (GR_TEST_WORKERS overrides). Integration files spend most
 * of their time waiting (for restarts, probations, drains), so they run side by side: their
 * ports come from a range per worker (test/helpers/http.ts freePort) and their files from
 * temporary directories of their own. `node scripts/test-timings.mjs` shows the waiting.
 */
export const TEST_WORKERS = Number(process.env['GR_TEST_WORKERS'] ?? 3);

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
