import type { TestProjectInlineConfiguration } from 'vitest/config';

/**
 * Three vitest projects per package: `<name>:unit` (in-process, fast), `<name>:types`
 * (`*.test-d.ts`: the public types, checked by tsc against the built declarations) and
 * `<name>:integration` (`*.int.test.ts`: real processes, sockets and signals). CI runs the
 * integration project again on Node 24.
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

/** `<name>:integration`: `*.int.test.ts` files with real processes, sockets and signals. */
export function integrationOnly(name: string, root = name): TestProjectInlineConfiguration {
  return {
    extends: false,
    test: {
      name: `${name}:integration`,
      root,
      include: ['test/**/*.int.test.ts'],
      testTimeout: 120_000,
      hookTimeout: 30_000,
      // Load tests share two cores: one file at a time keeps their timing honest.
      fileParallelism: false,
    },
  };
}
