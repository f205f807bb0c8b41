// The handover overhead over a cold start, shared by bench/run.mjs and bench/scale.mjs.
import { freePort } from './probe.mjs';
import { endAll, exitOf, start } from './procs.mjs';
import { percentiles } from './stats.mjs';

const APP = new URL('../servers/app.mjs', import.meta.url).pathname;

/**
 * The library's own cost: SIGHUP -> the successor accepts, against a cold start of the same app
 * -> it accepts. Both are timed by the app's own "listening" line (printed once it accepts; a
 * successor writes to the same stdout), not by a probe: probing every 2 ms would load the old
 * generation and the CPU while the successor starts, and not while a cold start does. `env` goes
 * to both (bench/scale.mjs: more listeners).
 */
export async function runOverhead({ k = 30, env = {} } = {}) {
  const port = await freePort();
  const coldPort = await freePort();
  const first = start([APP], { MODE: 'graceful', PORT: String(port), ...env });
  const seen = [first.child.pid];
  const handovers = [];
  const colds = [];
  const listening = (proc, fresh) =>
    proc.waitFor((e) => e.event === 'listening' && fresh(e.pid), 20_000);
  try {
    await listening(first, () => true);
    let pid = first.child.pid;
    for (let i = 0; i < k; i++) {
      // Interleaved: one handover, then one cold start of the same app on another port.
      const begin = performance.now();
      process.kill(pid, 'SIGHUP');
      const next = (await listening(first, (p) => !seen.includes(p))).pid;
      handovers.push(performance.now() - begin);
      seen.push(next);
      await exitOf(pid);
      pid = next;
      const coldBegin = performance.now();
      const cold = start([APP], { MODE: 'graceful', PORT: String(coldPort), ...env });
      await listening(cold, () => true);
      colds.push(performance.now() - coldBegin);
      await endAll([cold.child.pid]);
    }
  } finally {
    await endAll(seen);
  }
  const handover = percentiles(handovers);
  const cold = percentiles(colds);
  return { k, handover, cold, overheadMedianMs: handover.p50 - cold.p50 };
}
