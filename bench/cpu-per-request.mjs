// The adapters' cost per request, by CPU time, not throughput: throughput on this shared machine
// swings by ±5 % run to run, and even the CPU time per request of one server measured alone
// drifts by ±15 % between runs a few seconds apart (the virtual CPU's speed changes). So the bare
// framework and the variant run at once, pinned to the same CPU, each sent REQUESTS requests at
// RATE a second over one keep-alive connection (together well below what the CPU can serve), and
// their CPU time (all threads, /proc schedstat) is read over the same interval: whatever the
// CPU's speed does, both meet it. One connection, so that each request is served on a wake-up
// of its own: with 8, how many requests one wake-up happened to batch moved the cost per request
// by ±30 % between the two servers of one interval. Each round starts the pair afresh (which starts first
// alternates); the figure is the median of the rounds' ratios, with the lowest and highest.
// Also the import time of core and each adapter.
//
//   node bench/cpu-per-request.mjs [--rounds 7] [--requests 10000] [--rate 2000]
//                                  [--frameworks http,fastify,express,koa,hono]
// Writes bench/results/cpu-node<major>.json; `node bench/report.mjs` renders it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { freePort, waitForServing } from './lib/probe.mjs';
import { cpuNsOf, endAll, start } from './lib/procs.mjs';

const FRAMEWORKS = 'http,fastify,express,koa,hono';
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    requests: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '2000' },
    frameworks: { type: 'string', default: FRAMEWORKS },
    'import-runs': { type: 'string', default: '15' },
    // Only the import times, merged into the results file already there.
    'imports-only': { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const requests = Number(values.requests);
const rate = Number(values.rate);
const frameworks = values.frameworks.split(',');
const SERVER = new URL('servers/framework.mjs', import.meta.url).pathname;
const SERVER_CPU = 1;
const CONNECTIONS = 1;

/** The variants measured against bare: the adapter as `app.use(x())` leaves it, and with the routes the examples mount. */
const variantsOf = (framework) =>
  framework === 'http'
    ? [
        { name: 'bare', env: { MODE: 'bare' } },
        { name: 'graceful', env: { MODE: 'graceful' } },
      ]
    : [
        { name: 'bare', env: { MODE: 'bare' } },
        { name: 'graceful', env: { MODE: 'graceful' } },
        { name: 'graceful + routes', env: { MODE: 'graceful', ROUTES: '1' } },
        ...(framework === 'fastify'
          ? []
          : [
              {
                name: 'listen() + routes, no app.use',
                env: { MODE: 'graceful', ROUTES: '1', MOUNT: '0' },
              },
            ]),
      ];

const load = (url, amount) =>
  autocannon({ url, connections: CONNECTIONS, amount, overallRate: rate, timeout: 5 });

async function launch(framework, env) {
  const port = await freePort();
  const server = start(
    [SERVER],
    { FRAMEWORK: framework, PORT: String(port), ...env },
    { cpu: SERVER_CPU },
  );
  await waitForServing(port, () => true);
  return { pid: server.child.pid, url: `http://127.0.0.1:${port}/` };
}

/** µs of CPU per request of `bare` and `variant`, both serving at once on one CPU. */
async function measurePair(framework, bareEnv, variantEnv, swap) {
  const servers = [];
  try {
    for (const env of swap ? [variantEnv, bareEnv] : [bareEnv, variantEnv]) {
      servers.push(await launch(framework, env));
    }
    // Warm-up: JIT, first-use allocations.
    await Promise.all(servers.map((s) => load(s.url, Math.min(requests, 4000))));
    const before = servers.map((s) => cpuNsOf(s.pid));
    const results = await Promise.all(servers.map((s) => load(s.url, requests)));
    const us = servers.map(
      (s, i) => (cpuNsOf(s.pid) - before[i]) / 1000 / results[i].requests.total,
    );
    for (const r of results) {
      const failed = r.errors + r.non2xx + r.timeouts;
      if (failed > 0) throw new Error(`${framework}: ${failed} failed requests`);
    }
    return swap ? { bare: us[1], variant: us[0] } : { bare: us[0], variant: us[1] };
  } finally {
    await endAll(servers.map((s) => s.pid));
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round3 = (x) => Math.round(x * 1000) / 1000;
const round1 = (x) => Math.round(x * 10) / 10;

const file = new URL(
  `results/cpu-node${process.versions.node.split('.')[0]}.json`,
  import.meta.url,
);
const rows = [];
for (const framework of values['imports-only'] ? [] : frameworks) {
  const [bare, ...variants] = variantsOf(framework);
  for (const variant of variants) {
    const pairs = [];
    for (let r = 0; r < rounds; r++) {
      pairs.push(await measurePair(framework, bare.env, variant.env, r % 2 === 1));
      const { bare: b, variant: v } = pairs[r];
      process.stderr.write(
        `${framework} ${variant.name} round ${r + 1}/${rounds}: bare ${round1(b)} µs, with ${round1(v)} µs, ratio ${round3(v / b)}\n`,
      );
    }
    const ratios = pairs.map((p) => p.variant / p.bare);
    rows.push({
      framework,
      variant: variant.name,
      bareUs: round1(median(pairs.map((p) => p.bare))),
      withUs: round1(median(pairs.map((p) => p.variant))),
      ratio: round3(median(ratios)),
      ratioSpread: [round3(Math.min(...ratios)), round3(Math.max(...ratios))],
      ratios: ratios.map(round3),
    });
  }
}

/** ms to import `specifier` in a fresh node, from the bench package (where it resolves). */
function importMs(specifier) {
  const script = `const t = performance.now(); await import(${JSON.stringify(specifier)}); process.stdout.write(String(performance.now() - t));`;
  const times = [];
  for (let i = 0; i < Number(values['import-runs']); i++) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: new URL('.', import.meta.url).pathname,
      env: { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' },
    });
    times.push(Number(out));
  }
  return { medianMs: round1(median(times)), maxMs: round1(Math.max(...times)) };
}
const measureImports = values['imports-only'] || values.frameworks === FRAMEWORKS;
const imports = Object.fromEntries(
  (measureImports
    ? [
        '@graceful-restart/core',
        '@graceful-restart/fastify',
        '@graceful-restart/express',
        '@graceful-restart/koa',
        '@graceful-restart/hono',
        'fastify',
        'express',
      ]
    : []
  ).map((specifier) => [specifier, importMs(specifier)]),
);

// A run of some frameworks (or of the imports only) replaces their part of the file already there.
const partial = values['imports-only'] || values.frameworks !== FRAMEWORKS;
const earlier = partial && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : { rows: [] };
const out = {
  node: process.version,
  date: new Date().toISOString().slice(0, 10),
  command: 'node bench/cpu-per-request.mjs',
  rounds,
  requests,
  rate,
  rows: [
    ...earlier.rows.filter((row) => !frameworks.includes(row.framework) || values['imports-only']),
    ...rows,
  ].sort(
    (a, b) =>
      FRAMEWORKS.split(',').indexOf(a.framework) - FRAMEWORKS.split(',').indexOf(b.framework),
  ),
  imports: measureImports ? imports : earlier.imports,
};
writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out, null, 2));
