// Summaries of one strategy run: failures by kind, latency overall / steady / inside restart
// windows, handover and old-generation exit times, memory while generations overlap.

const round = (x) => (x === undefined ? undefined : Math.round(x * 10) / 10);

export function percentiles(values) {
  const sorted = [...values].filter((v) => v !== undefined).sort((a, b) => a - b);
  const at = (q) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: round(sorted.at(-1)) };
}

const inAny = (t, windows) => windows.some((w) => t >= w.begin && t <= w.end);
/** A request whose lifetime [sent, answered] overlaps a restart window. */
const overlapsAny = (t, latency, windows) =>
  windows.some((w) => t >= w.begin && t - latency <= w.end);
const MB = 1024 * 1024;

export function summarize({ responses, errors, rss, windows, warmupMs }) {
  const failures = { refused: 0, reset: 0, timeout: 0, '5xx': 0, other: 0 };
  for (const [, kind] of errors) failures[kind] += 1;
  for (const [, , status] of responses) if (status >= 500) failures['5xx'] += 1;
  const latencies = (keep) =>
    percentiles(responses.filter(([t, l]) => keep(t, l)).map(([, l]) => l));
  const steadyRss = rss.filter(([t]) => t > warmupMs && !inAny(t, windows)).map(([, b]) => b);
  const overlapRss = rss.filter(([t]) => inAny(t, windows)).map(([, b]) => b);
  // 250 ms buckets for the chart: p99 latency and failed requests.
  const buckets = [];
  const bucketMs = 250;
  // Loops, not Math.max(...): a run holds hundreds of thousands of samples.
  let last = 0;
  for (const [t] of responses) last = Math.max(last, t);
  for (const [t] of errors) last = Math.max(last, t);
  for (let start = 0; start <= last; start += bucketMs) {
    const inBucket = ([t]) => t >= start && t < start + bucketMs;
    const p = percentiles(responses.filter(inBucket).map(([, l]) => l));
    const failed =
      errors.filter(inBucket).length + responses.filter((r) => inBucket(r) && r[2] >= 500).length;
    buckets.push([start, p.p99 ?? null, failed]);
  }
  const handovers = windows.map((w) => w.handoverMs);
  return {
    requests: responses.length + errors.length,
    failed: Object.values(failures).reduce((a, b) => a + b, 0),
    failures,
    latency: {
      overall: latencies(() => true),
      steady: latencies((t, l) => t - l > warmupMs && !overlapsAny(t, l, windows)),
      windows: latencies((t, l) => overlapsAny(t, l, windows)),
    },
    handoverMs: handovers.map(round),
    handoverMedianMs: percentiles(handovers).p50,
    oldExitAfterHandoverMs: windows.map((w) => round(w.oldExitAfterHandoverMs)),
    oldExitAfterHandoverMedianMs: percentiles(windows.map((w) => w.oldExitAfterHandoverMs)).p50,
    rssMB: {
      steady: round(percentiles(steadyRss).p50 / MB),
      peakOverlap: round(overlapRss.reduce((a, b) => Math.max(a, b), 0) / MB),
    },
    windows: windows.map((w) => ({
      begin: round(w.begin),
      serving: round(w.serving),
      end: round(w.end),
    })),
    buckets,
  };
}
