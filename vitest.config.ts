import { defineConfig } from 'vitest/config';
import { integrationOnly, packageProjects } from './vitest.shared.js';

export default defineConfig({
  test: {
    projects: [
      ...['core', 'fastify', 'express', 'koa', 'hono'].flatMap((name) => packageProjects(name)),
      // The example servers, driven through the examples contract (real processes).
      integrationOnly('examples'),
      // One suite against every adapter (the admin route contract).
      integrationOnly('conformance'),
    ],
  },
});
