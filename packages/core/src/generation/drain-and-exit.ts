import type { DrainOptions } from '../drain/options.js';
import { mergeDrainReports } from '../drain/report.js';
import type { ConnectionTracker } from '../drain/tracker.js';
import type { DrainProgress, DrainReport } from '../handover/messages.js';
import type { SuccessorMessenger } from '../handover/types.js';
import type { ResolvedOptions } from '../options.js';
import { runShutdownHooks } from './shutdown-hooks.js';

/** Exit codes: 0 after a clean handover or shutdown; 1 when forced. A second shutdown signal exits with 128 + its number. */
export const ExitCodes = {
  CLEAN: 0,
  /** The drain deadline cut connections, or a cleanup hook failed. */
  FORCED: 1,
} as const;

/** How often a drain says what it has left. */
const PROGRESS_EVERY_MS = 1_000;

/**
 * Drains every server of a generation at once; resolves with their merged report, its duration
 * measured when the last one finished. The listeners close once `listenersClosable` settles
 * (see ConnectionTracker.drain()). Each second while connections are left, `progress` hears
 * what is left (so that an operator sees why an old process lingers).
 */
export function drainServers(
  trackers: ConnectionTracker[],
  options: DrainOptions,
  listenersClosable: Promise<unknown>,
  progress: (left: DrainProgress) => void,
  /** When the drain began and its deadline from then (Date.now() time; a cap may shorten it). */
  window: Readonly<{ startedAt: number; deadlineMs: number }>,
): Promise<DrainReport> {
  const started = performance.now();
  const at = (ms: number) => new Date(ms).toISOString();
  // Also keeps this process alive until the drain is over: the drain's own timers (pacing, the
  // final HTTP/2 GOAWAY, the deadline) are unref'd, and an HTTP/2 session told to go away may
  // not hold the loop, whatever ends a probation.
  const tell = () => {
    const left = { connections: 0, requestsInFlight: 0 };
    for (const tracker of trackers) {
      left.connections += tracker.left.connections;
      left.requestsInFlight += tracker.left.requestsInFlight;
    }
    if (left.connections === 0) return;
    const { startedAt, deadlineMs } = window;
    progress({
      pid: process.pid,
      since: at(startedAt),
      ...left,
      deadline: at(startedAt + deadlineMs),
    });
  };
  const watch = setInterval(tell, PROGRESS_EVERY_MS);
  const drains = trackers.map((tracker) => tracker.drain(options, listenersClosable));
  // At once too: the next generation counts this drain (drain.maxOldGenerations) from the start.
  tell();
  return Promise.all(drains)
    .then((reports) => mergeDrainReports(reports, Math.round(performance.now() - started)))
    .finally(() => clearInterval(watch));
}

/** What afterDrain() uses of its generation. */
interface DrainedParts {
  servers: { removeOwned(pidFile: string | undefined): Promise<void>; drainDeadlineMs: number };
  options: ResolvedOptions;
  signals: { uninstall(): void } | undefined;
  appHooks: { shutdown: Array<() => unknown> };
}

/**
 * After the drain: the service's Unix paths and PID file go when this generation `owns` them
 * (a final shutdown), the app's shutdown hooks get what the drain left of its deadline (a
 * probation's wait does not count), the report is logged, and the successor told. Resolves with
 * the exit code.
 */
export async function afterDrain(
  report: DrainReport,
  { servers, options, signals, appHooks }: DrainedParts,
  owns: boolean,
  successor: SuccessorMessenger | undefined,
): Promise<number> {
  if (owns) await servers.removeOwned(options.pidFile);
  const log = options.logger;
  const remaining = Math.max(0, servers.drainDeadlineMs - report.durationMs);
  const hooksFailed = !(await runShutdownHooks(appHooks.shutdown, remaining, log));
  log.info(
    `drained in ${report.durationMs} ms: ${report.requestsCompleted} requests completed, ` +
      `${report.socketsClosedIdle} idle sockets closed, ${report.socketsForced} forced at the deadline`,
    {
      event: 'drained',
      pid: process.pid,
      durationMs: report.durationMs,
      requestsCompleted: report.requestsCompleted,
      socketsClosedIdle: report.socketsClosedIdle,
      socketsForced: report.socketsForced,
    },
  );
  if (report.cut.length > 0) {
    const listed = report.cut.map((w) =>
      w.path === undefined
        ? `${w.kind}${w.streams ? ` of ${w.streams} streams` : ''} (${w.ageMs} ms)`
        : `${w.method} ${w.path} (${w.kind}, ${w.ageMs} ms)`,
    );
    const more = report.cutNotListed > 0 ? ` and ${report.cutNotListed} more` : '';
    log.warn(`the drain deadline cut: ${listed.join(', ')}${more}`, {
      event: 'drain-cut',
      pid: process.pid,
      cut: listed.join(', '),
      cutNotListed: report.cutNotListed,
    });
  }
  signals?.uninstall();
  successor?.reportDrained(report);
  return report.deadlineReached || hooksFailed ? ExitCodes.FORCED : ExitCodes.CLEAN;
}
