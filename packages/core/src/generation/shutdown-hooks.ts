import type { Logger } from '../logger.js';

/**
 * Runs the app's shutdown hooks in order within `budgetMs`; false when one failed or the
 * budget ran out (the exit code then says the shutdown was forced).
 */
export async function runShutdownHooks(
  hooks: Array<() => unknown>,
  budgetMs: number,
  log: Logger,
): Promise<boolean> {
  let ok = true;
  const deadline = new Promise<'timeout'>((resolve) =>
    setTimeout(() => resolve('timeout'), budgetMs).unref(),
  );
  for (const hook of hooks) {
    try {
      const outcome = await Promise.race([Promise.resolve().then(hook), deadline]);
      if (outcome === 'timeout') {
        log.error('a shutdown hook did not finish within the drain deadline');
        return false;
      }
    } catch (error) {
      ok = false;
      log.error(
        `a shutdown hook failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return ok;
}
