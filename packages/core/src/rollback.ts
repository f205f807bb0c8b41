import type { Logger } from './logger.js';
import type { HeldHandle } from './sockets/duplicate.js';

/**
 * The duplicates of its listening sockets a generation keeps for a rollback: taken while the
 * next generation starts (a helper process passes them back, node having no dup(2)), claimed
 * by the drain at the handover, dropped when the restart fails.
 */
export class RollbackReserve {
  private pending: Promise<HeldHandle[] | undefined> | undefined;

  constructor(
    private readonly duplicate: () => Promise<HeldHandle[]>,
    private readonly log: Logger,
  ) {}

  /** Starts taking the duplicates, unless that is under way already. */
  prepare(): void {
    this.pending ??= this.duplicate().catch((error: Error) => {
      this.log.warn(`no rollback possible for this restart: ${error.message}`);
      return undefined;
    });
  }

  /** The duplicates, now the caller's (undefined when taking them failed or never began). */
  claim(): Promise<HeldHandle[] | undefined> {
    const pending = this.pending ?? Promise.resolve(undefined);
    this.pending = undefined;
    return pending;
  }

  /** Closes the duplicates: no rollback will need them. */
  drop(): void {
    void this.claim().then((handles) => {
      for (const handle of handles ?? []) handle.close();
    });
  }
}
