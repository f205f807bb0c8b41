// What a test run covers, from the environment: the example servers by name (one list for the
// suites and for vitest.config.ts, which makes one vitest project per example) and how many
// files run at once. No test framework is imported here.
export const ALL_EXAMPLES = ['http', 'fastify', 'express', 'koa', 'nestjs', 'hono'] as const;
export type Example = (typeof ALL_EXAMPLES)[number];

/** The example names in `list` (comma-separated), checked; every example when it is empty. */
export function examplesFrom(list: string | undefined): readonly Example[] {
  if (!list) return ALL_EXAMPLES;
  return list.split(',').map((name) => {
    if (!(ALL_EXAMPLES as readonly string[]).includes(name)) {
      throw new Error(`Unknown example "${name}": expected one of ${ALL_EXAMPLES.join(', ')}`);
    }
    return name as Example;
  });
}

/** GR_TEST_WORKERS: a whole number of 1 or more; 3 when it is unset. */
export function testWorkers(value: string | undefined): number {
  if (value === undefined) return 3;
  const workers = Number(value);
  if (!Number.isInteger(workers) || workers < 1) {
    throw new Error(`GR_TEST_WORKERS must be a whole number of 1 or more (got "${value}")`);
  }
  return workers;
}
