// The first second after a handover, as clients feel it, with and without the warm-up: an
// example under 50 keep-alive clients (autocannon) is restarted 5 times (SIGHUP, 2.5 s apart);
// every answer's latency is kept with its time, and the p99 of the second after each signal is
// set against the p99 of the second before it (steady). 3 rounds per variant, interleaved.
// The warm-up sends GET / (the path the load requests) 50 times through the successor's own
// handler before it says ready (GRACEFUL_RESTART_WARM_UP=/, no code change in the example).
// Loopback only; stops by itself. Writes bench/results/first-second-node<major>.json.
//
//   node bench/first-second.mjs [--examples http,fastify,express] [--rounds 3]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { freePort, servingPid, waitForServing } from './lib/probe.mjs';
import { endAll, sleep, start } from './lib/procs.mjs';

const { values } = parseArgs({
  options: {
    examples: { type: 'string', default: 'http,fastify,express' },
    rounds: { type: 'string', default: '3' },
  },
});
const RESTARTS = 5;
const GAP_MS = 2500;
const WARM_MS = 3000;
const entry = (example) => new URL(`../examples/${example}/server.mjs`, import.meta.url).pathname;
const VARIANTS = [
  { name: 'no warm-up', env: {} },
  { name: 'warm-up GET / x50', env: { GRACEFUL_RESTART_WARM_UP: '/' } },
];

function p99(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] ?? 0;
}

async function run(example, env) {
  const port = await freePort();
  const first = start([entry(example)], { PORT: String(port), ...env });
  const pids = new Set([first.child.pid]);
  const answers = [];
  const warmUpMs = new Map();
  // Each successor logs its warm-up ("warmed up: 50 request(s) to / in 31 ms"): a line on the
  // shared stderr, or (fastify: pino) a JSON line on stdout.
  const readWarmUps = () => {
    for (const line of first.stderr) {
      const m = /\[graceful-restart (\d+)\] info: warmed up: .* in (\d+) ms/.exec(line);
      if (m) warmUpMs.set(m[1], Number(m[2]));
    }
    for (const event of first.events) {
      const m = /^warmed up: .* in (\d+) ms/.exec(event.msg ?? '');
      if (m) warmUpMs.set(String(event.pid), Number(m[1]));
    }
  };
  let errors = 0;
  try {
    await waitForServing(port, () => true);
    const load = autocannon({
      url: `http://127.0.0.1:${port}/`,
      connections: 50,
      duration: (WARM_MS + RESTARTS * GAP_MS + 500) / 1000,
    });
    load.on('response', (_client, status, _bytes, latency) => {
      if (status >= 400) errors++;
      answers.push([performance.now(), latency]);
    });
    const signals = [];
    await sleep(WARM_MS);
    let last = first.child.pid;
    for (let i = 0; i < RESTARTS; i++) {
      const pid = await servingPid(port);
      if (pid) pids.add(pid);
      // The previous successor must serve alone before the next signal.
      const target = pid && pid !== last ? pid : last;
      signals.push(performance.now());
      process.kill(target, 'SIGHUP');
      last = target;
      await sleep(GAP_MS);
      readWarmUps();
    }
    const result = await load;
    errors += result.errors + result.timeouts;
    const within = (from, to) => answers.filter(([at]) => at >= from && at < to).map(([, l]) => l);
    const after = signals.flatMap((s) => within(s, s + 1000));
    const before = signals.flatMap((s) => within(s - 1000, s));
    const warmUps = [...warmUpMs.values()];
    return {
      steadyP99: p99(before),
      afterP99: p99(after),
      ratio: p99(after) / p99(before),
      errors,
      warmUpMs: warmUps.length
        ? warmUps.sort((a, b) => a - b)[Math.floor(warmUps.length / 2)]
        : null,
    };
  } finally {
    const last = await servingPid(port);
    if (last) pids.add(last);
    await endAll([...pids]);
  }
}

const round2 = (x) => Math.round(x * 100) / 100;
const results = [];
for (const example of values.examples.split(',')) {
  const rows = VARIANTS.map((v) => ({ example, variant: v.name, rounds: [] }));
  for (let r = 0; r < Number(values.rounds); r++) {
    const order = r % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order) {
      const x = await run(example, VARIANTS[i].env);
      rows[i].rounds.push({ ...x, ratio: round2(x.ratio) });
      process.stderr.write(`${example} ${VARIANTS[i].name}: ${JSON.stringify(x)}\n`);
    }
  }
  results.push(...rows);
}
const out = {
  node: process.version,
  date: new Date().toISOString().slice(0, 10),
  command: 'node bench/first-second.mjs',
  restarts: RESTARTS,
  results,
};
writeFileSync(
  new URL(`results/first-second-node${process.versions.node.split('.')[0]}.json`, import.meta.url),
  `${JSON.stringify(out, null, 2)}\n`,
);
console.log(JSON.stringify(out, null, 2));
