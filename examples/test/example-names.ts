// The example servers, by name: one list for the suites and for vitest.config.ts, which makes
// one vitest project per example (no test framework is imported here).
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
