import type { DrainProgress } from '../handover/messages.js';
import type { SuccessorMessenger } from '../handover/types.js';
import { explainLameDuck } from '../lame-duck-setting.js';
import { writePidFile } from '../pid-file.js';
import type { HeldHandle } from '../sockets/duplicate.js';
import { logWarmUp, warmUp } from '../warm-up.js';
import { reportLoad } from './load-report.js';
import type { GenerationParts } from './parts.js';

/** A generation is ready: systemd, whoever started it, the PID file and the log learn it. */
export async function announceReady(parts: GenerationParts): Promise<void> {
  const { servers, predecessor: link, notifier, options } = parts;
  if (options.warmUp.paths.length > 0) {
    logWarmUp(parts.log.logger, options.warmUp, await warmUp(servers.servers, options.warmUp));
  }
  parts.signals?.warnAboutOtherListeners();
  // systemd learns the new main pid before the previous generation is told to drain and exit.
  await notifier?.ready(process.pid, link !== undefined);
  await link?.sendReady();
  if (link?.supervised) reportLoad(servers.load.bind(servers), link.sendLoad.bind(link));
  if (options.pidFile) await writePidFile(options.pidFile, process.pid);
  parts.log.ready(link);
  if (!link) explainLameDuck(options.lameDuck, options.drain.deadlineMs, parts.log.logger);
}

/**
 * Once a second while this generation drains: the log, the supervisor (its `status`), and in
 * direct mode the next generation, with the drains before this one it knows of (its admin status).
 */
export function announceDrainProgress(
  { log, predecessor: link }: GenerationParts,
  successor: SuccessorMessenger | undefined,
  progress: DrainProgress,
): void {
  log.draining(progress);
  if (link?.supervised) link.sendDraining(progress);
  successor?.reportDraining([progress, ...(link?.drainingBefore ?? [])]);
}

/** A rollback: serve again on the `held` duplicates; the PID file and MAINPID point back here. */
export async function serveAgain(parts: GenerationParts, held: HeldHandle[]): Promise<void> {
  await parts.servers.serveAgain(held);
  await parts.notifier?.ready(process.pid, true);
  if (parts.options.pidFile) await writePidFile(parts.options.pidFile, process.pid);
}
