/** One thing `graceful-restart doctor` checked: what it found and, when it is not fine, the fix. */
export interface Finding {
  check: string;
  /** fail: a zero-downtime restart is not possible here until fixed; warn: possible, with a risk. */
  status: 'ok' | 'warn' | 'fail' | 'skip';
  says: string;
  fix?: string;
}

/** What the checks are told about the deployment to come (from the doctor's command line). */
export interface DoctorPlan {
  /** The app will run under `graceful-restart run` (else directly: `node server.mjs`). */
  supervised: boolean;
  listeners: import('../sockets/spec.js').ListenerSpec[];
  workers: number;
  /** Workers a reload replaces at a time (`--reload-batch`; all of them by default). */
  reloadBatch: number;
  connections: number;
  workerMemoryMb: number;
  deadlineMs: number;
  lameDuckMs: number;
  pidFile: string | undefined;
  controlPath: string;
  /** A unit name (read with systemctl) or a unit file's path. */
  unit: string | undefined;
}

export const ok = (check: string, says: string): Finding => ({ check, status: 'ok', says });
export const skip = (check: string, says: string): Finding => ({ check, status: 'skip', says });
export const warn = (check: string, says: string, fix: string): Finding => ({
  check,
  status: 'warn',
  says,
  fix,
});
export const fail = (check: string, says: string, fix: string): Finding => ({
  check,
  status: 'fail',
  says,
  fix,
});
