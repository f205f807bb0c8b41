import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { examplesFrom } from './examples/test/test-selection.js';
import { integrationOnly, packageProjects, TEST_WORKERS } from './vitest.shared.js';

// GR_EXAMPLES=fastify,http limits the per-example projects (CI's other Node lines run one).
const examples = examplesFrom(process.env['GR_EXAMPLES']);

export default defineConfig({
  test: {
    maxWorkers: TEST_WORKERS,
    projects: [
      ...['core', 'fastify', 'express', 'koa', 'hono'].flatMap((name) => packageProjects(name)),
      // The example servers, driven through the examples contract (real processes): the suites
      // about one example, or none in particular, once...
      integrationOnly('examples', 'examples', ['test/each/**']),
      // The checks on the variables that choose examples and workers.
      {
        extends: false,
        test: {
          name: 'examples:unit',
          root: 'examples',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts'],
          maxWorkers: TEST_WORKERS,
        },
      },
      // ...and the suites every example keeps, one project per example, so that they run side
      // by side and a Node line can run some of them.
      ...examples.map((example) => exampleProject(example)),
      // One suite against every adapter (the admin route contract), and h2load across restarts.
      // It runs in a group of its own, one file at a time: h2load at full speed is what it
      // measures, and load tests beside it on two cores delay frames by seconds.
      alone(integrationOnly('conformance')),
    ],
  },
});

/** `examples-<example>:integration`: test/each/ with GR_EXAMPLE=<example>. */
function exampleProject(example: string): TestProjectInlineConfiguration {
  const project = integrationOnly(`examples-${example}`, 'examples');
  return {
    ...project,
    test: {
      ...project.test,
      include: ['test/each/**/*.int.test.ts'],
      env: { GR_EXAMPLE: example },
    },
  };
}

/** `project` in a group of its own, run one file at a time after the default group. */
function alone(project: TestProjectInlineConfiguration): TestProjectInlineConfiguration {
  return {
    ...project,
    test: { ...project.test, maxWorkers: 1, sequence: { groupOrder: 1 } },
  };
}
