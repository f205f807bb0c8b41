// Restarts under load on one timeline (ms from the start), shared by bench/run.mjs (one process
// per generation) and bench/workers.mjs (a set of workers).
import { keepAliveLoad, newConnectionLoad } from './loads.mjs';
import { waitForServing } from './probe.mjs';
import { exitOf, sleep } from './procs.mjs';

/**
 * One restart of a launched strategy (see strategies.mjs), as restartsUnderLoad's restartOnce:
 * the probe names the serving pid, the strategy restarts, then the probe waits for another pid
 * to answer and for the old one to exit.
 */
export async function restartSeenByProbe(app, port) {
  // Polled: under thousands of clients a single probe can time out.
  const [oldPid] = await waitForServing(port, () => true);
  const trigger = app.restart(oldPid);
  const [newPid, servedAt] = await waitForServing(port, (pid) => pid !== oldPid);
  app.served(newPid);
  await trigger;
  return { servedAt, exitedAt: await exitOf(oldPid) };
}

/**
 * `restarts` restarts `intervalMs` apart after `warmupMs`, under a closed-loop load of
 * `connections` clients (keep-alive on or off). `restartOnce()` triggers one restart and
 * resolves with `{ servedAt, exitedAt }` (performance.now() times: a new process answers; the
 * old ones have exited, or undefined). `sample(now)`, if given, runs every 25 ms. Resolves with
 * every response `[t, latencyMs, status]`, error `[t, kind]` and restart window.
 */
export async function restartsUnderLoad({
  port,
  keepAlive,
  connections,
  restarts,
  intervalMs,
  warmupMs,
  restartOnce,
  sample,
  ratePerConnection,
}) {
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const responses = [];
  const errors = [];
  const sampler = sample ? setInterval(() => sample(now()), 25) : undefined;
  const durationS = Math.ceil((warmupMs + restarts * intervalMs + 1000) / 1000);
  const load = (keepAlive ? keepAliveLoad : newConnectionLoad)({
    port,
    connections,
    seconds: durationS,
    onResponse: (latency, status) => responses.push([now(), latency, status]),
    onError: (kind) => errors.push([now(), kind]),
    ratePerConnection,
  });
  const windows = [];
  try {
    await sleep(warmupMs);
    for (let i = 0; i < restarts; i++) {
      const slot = warmupMs + i * intervalMs;
      if (now() < slot) await sleep(slot - now());
      const begin = now();
      const { servedAt, exitedAt } = await restartOnce();
      const serving = servedAt - t0;
      const exited = exitedAt === undefined ? undefined : exitedAt - t0;
      windows.push({
        begin,
        serving,
        exited,
        end: Math.max(serving, exited ?? serving),
        handoverMs: serving - begin,
        oldExitAfterHandoverMs: exited === undefined ? undefined : exited - serving,
      });
    }
    await load.done;
  } finally {
    if (sampler) clearInterval(sampler);
    load.stop();
  }
  return { responses, errors, windows };
}
