import type { DrainReport } from '../handover/messages.js';

/** Sums the reports of several servers drained together. */
export function mergeDrainReports(reports: DrainReport[], durationMs: number): DrainReport {
  const sum = (key: keyof Omit<DrainReport, 'deadlineReached' | 'durationMs'>) =>
    reports.reduce((total, report) => total + report[key], 0);
  return {
    durationMs,
    socketsAtStart: sum('socketsAtStart'),
    requestsCompleted: sum('requestsCompleted'),
    socketsClosedIdle: sum('socketsClosedIdle'),
    socketsForced: sum('socketsForced'),
    requestsCutAtDeadline: sum('requestsCutAtDeadline'),
    deadlineReached: reports.some((report) => report.deadlineReached),
  };
}
