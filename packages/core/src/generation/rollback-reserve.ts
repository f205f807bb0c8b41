import type { Logger } from '../logger.js';
import type { HeldHandle } from '../sockets/duplicate.js';

/**
 * The duplicates of its listening sockets a generation keeps for a rollback (a helper process
 * passes them back, node having no dup(2)). They are taken once this generation is ready and
 * its predecessor has gone, and held while it serves: a restart then claims them at once, and no
 * helper starts beside the next generation, where it would slow that one's startup on a busy
 * machine (a restart before they are held takes them itself).
 * A failed restart keeps them; a rollback uses them up, and new ones are taken after it; a
 * drain, a server its owner closes and uninstall() close them.
 */
export class RollbackReserve {
  private pending: Promise<HeldHandle[] | undefined> | undefined;
  /** Stops the take in progress (its helper still holds the sockets open). */
  private stopTaking: AbortController | undefined;

  constructor(
    private readonly duplicate: (signal: AbortSignal) => Promise<HeldHandle[]>,
    private readonly log: Logger,
  ) {}

  /** Starts taking the duplicates, unless they are held or being taken (again after a failure). */
  prepare(): void {
    if (this.pending) return;
    const stopTaking = new AbortController();
    const taking: Promise<HeldHandle[] | undefined> = this.duplicate(stopTaking.signal).catch(
      (error: Error) => {
        this.log.warn(`no rollback possible until the sockets are held: ${error.message}`);
        // The next restart tries again.
        if (this.pending === taking) this.pending = undefined;
        return undefined;
      },
    );
    this.pending = taking;
    this.stopTaking = stopTaking;
  }

  /** The duplicates, now the caller's (undefined when taking them failed or never began). */
  claim(): Promise<HeldHandle[] | undefined> {
    const pending = this.pending ?? Promise.resolve(undefined);
    this.pending = undefined;
    this.stopTaking = undefined;
    return pending;
  }

  /**
   * Closes the duplicates no rollback will use: a drain's, a server its owner closed,
   * uninstall(). A take still in progress stops at once: its helper would keep the port
   * listening, and the connections queued meanwhile would be reset when it goes.
   */
  async drop(): Promise<void> {
    this.stopTaking?.abort();
    const handles = await this.claim();
    for (const handle of handles ?? []) handle.close();
  }
}
