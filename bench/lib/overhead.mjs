// The handover overhead over a cold start, shared by bench/run.mjs and bench/scale.mjs.
import { freePort } from './probe.mjs';
import { endAll, exitOf, start } from './procs.mjs';
import { percentiles } from './stats.mjs';

const APP = new URL('../servers/app.mjs', import.meta.url).pathname;
/** Let the machine settle after a process ended before the next timed start. */
const SETTLE_MS = 300;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The library's own cost: SIGHUP -> the successor accepts, against a cold start of the same app
 * -> it accepts. Both are timed by the app's own "listening" line (printed once it accepts; a
 * successor writes to the same stdout), not by a probe: probing every 2 ms would load the old
 * generation and the CPU while the successor starts, and not while a cold start does. `env` goes
 * to both (bench/scale.mjs: more listeners).
 *
 * Each handover is paired with a cold start right before or after it (the order alternates, and
 * each timed start follows a pause), and the figure is the median of the pairs' differences: on
 * this 2-core machine one start varies by ±40 ms, so the medians of 30 drifted by ±20 ms between
 * runs. Hence many pairs, and a probation of 200 ms (the old generation's exit, which each
 * handover waits for, comes sooner; the successor's path to accepting is the same: it holds
 * its rollback duplicates either way).
 */
export async function runOverhead({ k = 80, env = {} } = {}) {
  const port = await freePort();
  const coldPort = await freePort();
  env = { PROBATION_MS: '200', ...env };
  const first = start([APP], { MODE: 'graceful', PORT: String(port), ...env });
  const seen = [first.child.pid];
  const handovers = [];
  const colds = [];
  const listening = (proc, fresh) =>
    proc.waitFor((e) => e.event === 'listening' && fresh(e.pid), 20_000);
  let pid = first.child.pid;
  const timeHandover = async () => {
    const begin = performance.now();
    process.kill(pid, 'SIGHUP');
    const next = (await listening(first, (p) => !seen.includes(p))).pid;
    const ms = performance.now() - begin;
    seen.push(next);
    await exitOf(pid);
    pid = next;
    return ms;
  };
  const timeColdStart = async () => {
    const begin = performance.now();
    const cold = start([APP], { MODE: 'graceful', PORT: String(coldPort), ...env });
    await listening(cold, () => true);
    const ms = performance.now() - begin;
    await endAll([cold.child.pid]);
    return ms;
  };
  try {
    await listening(first, () => true);
    await inPairs(
      k,
      async () => handovers.push(await timeHandover()),
      async () => colds.push(await timeColdStart()),
    );
  } finally {
    await endAll(seen);
  }
  const differences = handovers.map((h, i) => h - colds[i]).sort((a, b) => a - b);
  const quantile = (q) =>
    Math.round(differences[Math.floor(q * (differences.length - 1))] * 10) / 10;
  const handover = percentiles(handovers);
  const cold = percentiles(colds);
  return {
    k,
    handover,
    cold,
    /** The figure: the median of the paired differences. */
    overheadMedianMs: quantile(0.5),
    /** Their interquartile range: how far one pair's difference spreads. */
    overheadIqrMs: [quantile(0.25), quantile(0.75)],
    /** The difference of the two series' medians (the figure before pairing). */
    medianDifferenceMs: Math.round((handover.p50 - cold.p50) * 10) / 10,
  };
}

/**
 * Runs `k` pairs of `handover` and `cold`, alternating which comes first, each after a pause so
 * that the machine has settled from the process that ended before it (shared with phases.mjs).
 */
export async function inPairs(k, handover, cold) {
  const settled = (run) => sleep(SETTLE_MS).then(run);
  for (let i = 0; i < k; i++) {
    if (i % 2 === 0) {
      await settled(handover);
      await settled(cold);
    } else {
      await settled(cold);
      await settled(handover);
    }
  }
}
