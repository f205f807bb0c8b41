import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { integrationOnly, packageProjects } from './vitest.shared.js';

export default defineConfig({
  test: {
    projects: [
      ...['core', 'fastify', 'express', 'koa', 'hono'].flatMap((name) => packageProjects(name)),
      // The example servers, driven through the examples contract (real processes).
      integrationOnly('examples'),
      // One suite against every adapter (the admin route contract), and h2load across restarts.
      // It runs after the other projects, alone: h2load at full speed is what it measures, and
      // two load tests beside it on two cores delay frames by seconds.
      alone(integrationOnly('conformance')),
    ],
  },
});

/** `project` in a group of its own, run after every project of the default group. */
function alone(project: TestProjectInlineConfiguration): TestProjectInlineConfiguration {
  return { ...project, test: { ...project.test, sequence: { groupOrder: 1 } } };
}
