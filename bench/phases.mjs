// Where a handover's milliseconds go, against a cold start of the same app: `node
// bench/phases.mjs [pairs=20] [listeners=1]`. Each pair is one SIGHUP handover and one cold start
// (alternating which comes first, each after a pause), timed from inside the processes
// (bench/servers/phases-app.mjs). Prints the medians per phase; writes nothing.
import { inPairs } from './lib/overhead.mjs';
import { freePort } from './lib/probe.mjs';
import { endAll, exitOf, start } from './lib/procs.mjs';

const APP = new URL('./servers/phases-app.mjs', import.meta.url).pathname;
const pairs = Number(process.argv[2] ?? 20);
const listeners = process.argv[3] ?? '1';
const now = () => performance.timeOrigin + performance.now();

const port = await freePort();
const coldPort = await freePort();
const first = start([APP], { PORT: String(port), LISTENERS: listeners });
const seen = [first.child.pid];
await first.waitFor((e) => e.event === 'listening', 20_000);
let pid = first.child.pid;

/** The phases of one start, from `begin` (SIGHUP sent, or spawn called) to its line read here. */
const phases = (begin, m, read) => ({
  'begin -> process start': m.origin - begin,
  'process start -> first instruction': m.first - m.origin,
  'imports (node:http, core)': m.imported - m.first,
  'createGraceful()': m.created - m.imported,
  'listen() (adopt or bind)': m.listened - m.created,
  'ready()': m.ready - m.listened,
  'ready -> line read': read - m.ready,
  total: read - begin,
});

const handovers = [];
const colds = [];
const oldSide = [];
const handover = async () => {
  const begin = now();
  process.kill(pid, 'SIGHUP');
  const e = await first.waitFor((e) => e.event === 'listening' && !seen.includes(e.pid), 20_000);
  const read = now();
  const hup = first.events.find((x) => x.event === 'sighup' && x.pid === pid && x.at >= begin);
  const spawned = first.events.find(
    (x) => x.event === 'spawned' && x.pid === pid && x.before >= begin,
  );
  handovers.push(phases(begin, e.marks, read));
  if (hup && spawned) {
    oldSide.push({
      'SIGHUP sent -> its JS listener': hup.at - begin,
      'listener -> spawn() called': spawned.before - hup.at,
      'spawn() (synchronous)': spawned.after - spawned.before,
      'spawn() returned -> process start': e.marks.origin - spawned.after,
    });
  }
  seen.push(e.pid);
  await exitOf(pid);
  pid = e.pid;
};
const cold = async () => {
  const begin = now();
  const c = start([APP], { PORT: String(coldPort), LISTENERS: listeners });
  const e = await c.waitFor((e) => e.event === 'listening', 20_000);
  colds.push(phases(begin, e.marks, now()));
  await endAll([c.child.pid]);
};
try {
  await inPairs(pairs, handover, cold);
} finally {
  await endAll(seen);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const cell = (v) => v.toFixed(1).padStart(9);
console.log(`node ${process.version}, ${pairs} pairs, ${listeners} listener(s); medians in ms`);
console.log(`${'phase'.padEnd(38)} handover cold start`);
for (const name of Object.keys(handovers[0])) {
  const h = median(handovers.map((r) => r[name]));
  const c = median(colds.map((r) => r[name]));
  console.log(`${name.padEnd(38)}${cell(h)}${cell(c)}`);
}
console.log('\nthe old generation, from SIGHUP to the successor process:');
for (const name of Object.keys(oldSide[0] ?? {})) {
  console.log(`${name.padEnd(38)}${cell(median(oldSide.map((r) => r[name])))}`);
}
