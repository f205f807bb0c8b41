// What V8's compile cache saves a successor (core sets NODE_COMPILE_CACHE for every successor
// unless the environment configures it): the start of unchanged examples, spawn -> the library's
// "ready (pid N)" line, with a warm cache directory against NODE_DISABLE_COMPILE_CACHE=1, 10
// interleaved starts each. node >= 22.1 only (older versions ignore the variable). Separate from
// `pnpm bench`; writes bench/results/compile-cache-node<major>.json, which report.mjs renders.
//
//   pnpm build && node bench/compile-cache.mjs
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { percentiles } from './lib/stats.mjs';

const ROUNDS = 10;
const EXAMPLES = [
  ['fastify', 'server.mjs'],
  ['express', 'server.mjs'],
  ['nestjs', 'dist/main.js'],
];
const [major, minor] = process.versions.node.split('.').map(Number);
const supported = major > 22 || (major === 22 && minor >= 1);

/** Spawns the example, resolves with ms from spawn to its "ready (pid" line, then stops it. */
function startOnce(example, entry, env) {
  return new Promise((resolve, reject) => {
    const begin = performance.now();
    const dir = new URL(`../examples/${example}/`, import.meta.url).pathname;
    const child = spawn(process.execPath, [entry], {
      cwd: dir,
      env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let took;
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const onLine = (line) => {
      if (took !== undefined || !line.includes('ready (pid')) return;
      took = performance.now() - begin;
      child.kill('SIGTERM');
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('exit', () => {
      clearTimeout(timer);
      if (took === undefined) reject(new Error(`${example} never said ready`));
      // Exited: the cache it wrote is flushed.
      else resolve(took);
    });
  });
}

const results = {
  node: process.version,
  date: new Date().toISOString().slice(0, 10),
  command: 'node bench/compile-cache.mjs',
  rounds: ROUNDS,
  supported,
  examples: [],
};
if (supported) {
  for (const [example, entry] of EXAMPLES) {
    const cacheDir = mkdtempSync(join(tmpdir(), 'gr-ncc-'));
    try {
      await startOnce(example, entry, { NODE_COMPILE_CACHE: cacheDir }); // fills the cache
      const cached = [];
      const cold = [];
      for (let i = 0; i < ROUNDS; i++) {
        cached.push(await startOnce(example, entry, { NODE_COMPILE_CACHE: cacheDir }));
        cold.push(await startOnce(example, entry, { NODE_DISABLE_COMPILE_CACHE: '1' }));
      }
      const row = { example, cached: percentiles(cached), uncached: percentiles(cold) };
      row.savedMedianMs = row.uncached.p50 - row.cached.p50;
      results.examples.push(row);
      console.log(
        `${example}: ${row.uncached.p50} ms -> ${row.cached.p50} ms (median), saves ${row.savedMedianMs.toFixed(1)} ms`,
      );
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  }
} else {
  console.log(`${process.version} has no compile cache (node >= 22.1): nothing to measure`);
}
const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const file = new URL(`compile-cache-node${major}.json`, dir);
writeFileSync(file, `${JSON.stringify(results, null, 1)}\n`);
console.log(`wrote ${file.pathname}`);
