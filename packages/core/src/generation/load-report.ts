import { DEFAULTS } from '../defaults.js';
import type { WorkerLoad } from '../handover/messages.js';

/**
 * Under the supervisor: what this worker carries, sent through `send` at once and then each
 * second it changed (`status` shows it).
 */
export function reportLoad(measure: () => WorkerLoad, send: (load: WorkerLoad) => void): void {
  let last = '';
  const report = () => {
    const load = measure();
    const key = `${load.connections} ${load.requests}`;
    if (key === last) return;
    last = key;
    send(load);
  };
  report();
  setInterval(report, DEFAULTS.loadReportMs).unref();
}
