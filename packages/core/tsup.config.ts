import { defineConfig } from 'tsup';

// The build script empties dist first: the two builds run at once, so neither may clean.

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    target: 'node20',
  },
  // The `graceful-restart` bin: ESM only, its shebang kept and the file made executable.
  { entry: ['src/cli.ts'], format: ['esm'], sourcemap: true, target: 'node20' },
]);
