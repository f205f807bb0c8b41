import { defineConfig } from 'vitest/config';
import { packageProjects } from './vitest.shared.js';

export default defineConfig({
  test: {
    projects: ['core', 'fastify', 'express', 'koa'].flatMap((name) => packageProjects(name)),
  },
});
