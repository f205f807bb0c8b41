// Adapter overhead: each framework bare and with its graceful-restart adapter, one server at a
// time, interleaved A B B A so that drift (thermal, other load) hits both sides alike.
import autocannon from 'autocannon';
import { freePort, waitForServing } from './probe.mjs';
import { endAll, start } from './procs.mjs';
import { percentiles } from './stats.mjs';

const SERVER = new URL('../servers/framework.mjs', import.meta.url).pathname;
const FRAMEWORKS = ['fastify', 'express', 'koa'];

async function measure(framework, mode, connections, seconds) {
  const port = await freePort();
  const server = start([SERVER], { FRAMEWORK: framework, MODE: mode, PORT: String(port) });
  try {
    await waitForServing(port, () => true);
    const url = `http://127.0.0.1:${port}/`;
    await autocannon({ url, connections, duration: 1 }); // warm-up, discarded
    const result = await autocannon({ url, connections, duration: seconds });
    return {
      rps: result.requests.average,
      p99: result.latency.p99,
      errors: result.errors + result.non2xx,
    };
  } finally {
    await endAll([server.child.pid]);
  }
}

export async function runAdapterOverhead({ connections, rounds = 4, seconds = 5, log }) {
  const out = [];
  for (const framework of FRAMEWORKS) {
    const runs = { bare: [], graceful: [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ['bare', 'graceful'] : ['graceful', 'bare'];
      for (const mode of order)
        runs[mode].push(await measure(framework, mode, connections, seconds));
    }
    const median = (mode, key) => percentiles(runs[mode].map((r) => r[key])).p50;
    const row = {
      framework,
      rounds,
      seconds,
      bare: { rps: median('bare', 'rps'), p99: median('bare', 'p99') },
      graceful: { rps: median('graceful', 'rps'), p99: median('graceful', 'p99') },
      errors: [...runs.bare, ...runs.graceful].reduce((sum, r) => sum + r.errors, 0),
      runs,
    };
    row.throughputRatio = Math.round((row.graceful.rps / row.bare.rps) * 1000) / 1000;
    row.p99Ratio = Math.round((row.graceful.p99 / row.bare.p99) * 1000) / 1000;
    out.push(row);
    log(
      `adapter ${framework}: ${row.bare.rps} -> ${row.graceful.rps} req/s (x${row.throughputRatio}), p99 ${row.bare.p99} -> ${row.graceful.p99} ms`,
    );
  }
  return out;
}
