import { CUT_LISTED, type DrainReport } from '../handover/messages.js';

/** Sums the reports of several servers drained together. */
export function mergeDrainReports(reports: DrainReport[], durationMs: number): DrainReport {
  const sum = (key: keyof Omit<DrainReport, 'deadlineReached' | 'durationMs' | 'cut'>) =>
    reports.reduce((total, report) => total + report[key], 0);
  const cut = reports.flatMap((report) => report.cut);
  return {
    durationMs,
    socketsAtStart: sum('socketsAtStart'),
    requestsCompleted: sum('requestsCompleted'),
    socketsClosedIdle: sum('socketsClosedIdle'),
    socketsForced: sum('socketsForced'),
    requestsCutAtDeadline: sum('requestsCutAtDeadline'),
    deadlineReached: reports.some((report) => report.deadlineReached),
    cut: cut.slice(0, CUT_LISTED),
    cutNotListed: sum('cutNotListed') + Math.max(0, cut.length - CUT_LISTED),
  };
}
