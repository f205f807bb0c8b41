import { defineConfig } from 'vitest/config';
import { packageProjects } from './vitest.shared.js';

export default defineConfig({
  test: {
    projects: [
      ...['core', 'fastify', 'express', 'koa'].flatMap((name) => packageProjects(name)),
      // The example servers, driven through the examples contract (real processes).
      {
        extends: false,
        test: {
          name: 'examples:integration',
          root: 'examples',
          include: ['test/**/*.int.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 30_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
