// The cost and the effect of the probation after a handover (@graceful-restart/core's
// probationMs), on the benchmark's app in graceful mode:
// - cost: with probationMs 0 and 2000, k restarts under light keep-alive load: how long the old
//   generation lives after the new one serves, and the RSS of both while they overlap;
// - effect: with successors that die 300 ms after ready, how long after the crash the previous
//   generation answers again (connections meanwhile wait in the listen backlog).
// Writes results/probation-node<major>.json; report.mjs renders it. Loopback only, bounded.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { freePort, servingPid, waitForServing } from './lib/probe.mjs';
import { endAll, exitOf, isAlive, rssOf, sleep, start } from './lib/procs.mjs';

const k = Number(process.env.K ?? 8);
const app = new URL('servers/app.mjs', import.meta.url).pathname;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Light keep-alive load: 4 clients, one request every 20 ms each. */
function lightLoad(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      await new Promise((resolve) =>
        http
          .get({ host: '127.0.0.1', port, agent }, (res) => res.resume().on('end', resolve))
          .on('error', resolve),
      );
      await sleep(20);
    }
  };
  const loops = Array.from({ length: 4 }, loop);
  return async () => {
    stopped = true;
    await Promise.all(loops);
    agent.destroy();
  };
}

async function cost(probationMs) {
  const port = await freePort();
  const first = start([app], {
    MODE: 'graceful',
    PORT: String(port),
    PROBATION_MS: String(probationMs),
  });
  const { pid: firstPid } = await first.waitFor((e) => e.event === 'listening');
  const pids = [firstPid];
  const stop = lightLoad(port);
  await sleep(500);
  const steadyRss = rssOf(firstPid);
  const lifetimes = [];
  const overlapRss = [];
  let pid = firstPid;
  for (let i = 0; i < k; i++) {
    process.kill(pid, 'SIGHUP');
    const [next, servedAt] = await waitForServing(port, (p) => p !== pid);
    pids.push(next);
    let peak = 0;
    while (isAlive(pid)) {
      peak = Math.max(peak, rssOf(pid) + rssOf(next));
      await sleep(25);
    }
    const gone = (await exitOf(pid, 1)) ?? performance.now();
    lifetimes.push(gone - servedAt);
    overlapRss.push(peak);
    pid = next;
    await sleep(300);
  }
  await stop();
  await endAll(pids);
  return {
    probationMs,
    oldLifetimeMs: { median: median(lifetimes), max: Math.max(...lifetimes) },
    steadyRssMb: steadyRss / 2 ** 20,
    overlapPeakRssMb: median(overlapRss) / 2 ** 20,
  };
}

async function rollback() {
  const port = await freePort();
  const first = start([app], { MODE: 'graceful', PORT: String(port), CRASH_SUCCESSOR_MS: '300' });
  const { pid } = await first.waitFor((e) => e.event === 'listening');
  const pids = [pid];
  const back = [];
  for (let i = 0; i < k; i++) {
    process.kill(pid, 'SIGHUP');
    const [next] = await waitForServing(port, (p) => p !== pid);
    pids.push(next);
    const crashedAt = await exitOf(next, 5000, 1);
    // The first answer from the previous generation after the crash, on a fresh connection.
    let answeredAt;
    while (answeredAt === undefined && performance.now() - crashedAt < 5000) {
      if ((await servingPid(port)) === pid) answeredAt = performance.now();
      else await sleep(1);
    }
    back.push(answeredAt - crashedAt);
    await sleep(500);
  }
  await endAll(pids);
  return {
    crashAfterReadyMs: 300,
    answeredAgainMs: { median: median(back), max: Math.max(...back) },
  };
}

const result = {
  node: process.version,
  k,
  cost: [await cost(0), await cost(2000)],
  rollback: await rollback(),
};
const major = process.versions.node.split('.')[0];
writeFileSync(
  new URL(`results/probation-node${major}.json`, import.meta.url),
  `${JSON.stringify(result, null, 2)}\n`,
);
console.log(JSON.stringify(result, null, 2));
