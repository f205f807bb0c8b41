// Restart metrics for Prometheus, with prom-client. Each generation exports its own registry;
// the totals of the generations before it come through onHandOff() / handedOff(), so the
// counters only go up while the service lives, across any number of restarts.
//
//   graceful_restarts_total{outcome="ok|failed|rolled_back", code}   counter
//   graceful_restart_duration_seconds                                 histogram
//   graceful_drain_duration_seconds                                   histogram
//   graceful_connections_forced_total                                 counter
//   graceful_crashes_total                                            counter
//
// Where each is counted: the restart that made a generation serve, and the drain of the one it
// replaced, in the new generation (the old one no longer gets scraped); a failed or rolled-back
// restart in the old generation, which serves on.
import client from 'prom-client';

export function restartMetrics(graceful) {
  const registry = new client.Registry();
  const restarts = new client.Counter({
    name: 'graceful_restarts_total',
    help: 'Restarts by outcome (ok, failed, rolled_back) and error code',
    labelNames: ['outcome', 'code'],
    registers: [registry],
  });
  const restartDuration = new client.Histogram({
    name: 'graceful_restart_duration_seconds',
    help: 'From the restart request until the next generation was ready',
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const drainDuration = new client.Histogram({
    name: 'graceful_drain_duration_seconds',
    help: 'A replaced generation, from the handover until its last connection closed',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const crashes = new client.Counter({
    name: 'graceful_crashes_total',
    help: 'Crashes (uncaught exceptions, unhandled rejections) handed over to a new generation',
    registers: [registry],
  });
  const forced = new client.Counter({
    name: 'graceful_connections_forced_total',
    help: 'Connections a drain deadline cut',
    registers: [registry],
  });

  graceful.on('took-over', (result) => {
    // A crash is counted apart from the restarts.
    if (result.cause === 'crash') return void crashes.inc();
    restarts.inc({ outcome: 'ok', code: '' });
    restartDuration.observe(result.durationMs / 1000);
  });
  graceful.on('restart-failed', (error) => restarts.inc({ outcome: 'failed', code: error.code }));
  graceful.on('rollback', (error) => restarts.inc({ outcome: 'rolled_back', code: error.code }));
  graceful.on('predecessor-drained', (report) => {
    drainDuration.observe(report.durationMs / 1000);
    forced.inc(report.socketsForced);
  });

  // The earlier generations' totals arrive within milliseconds of ready(); a scrape waits for
  // them, so it never sees a counter lower than the previous generation showed.
  const inherited = graceful.handedOff();
  const totals = async () => {
    const earlier = await inherited;
    const own = await registry.getMetricsAsJSON();
    return client.AggregatorRegistry.aggregate(Array.isArray(earlier) ? [own, earlier] : [own]);
  };
  graceful.onHandOff(async () => (await totals()).getMetricsAsJSON());

  return {
    contentType: registry.contentType,
    /** The exposition text: this generation's counts plus the ones before it. */
    text: async () => (await totals()).metrics(),
  };
}
