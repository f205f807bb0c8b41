import type { RestartResult } from '../handover/outcome.js';

/** The restart under way: a shutdown aborts it, and exits only once its successor is stopped. */
export class RestartInFlight {
  private current: { abort: AbortController; attempt: Promise<RestartResult> } | undefined;

  start(run: (signal: AbortSignal) => Promise<RestartResult>): Promise<RestartResult> {
    const abort = new AbortController();
    const attempt = run(abort.signal);
    const started = { abort, attempt };
    this.current = started;
    const clear = () => {
      if (this.current === started) this.current = undefined;
    };
    attempt.then(clear, clear);
    return attempt;
  }

  abort(): void {
    this.current?.abort.abort();
  }

  /** Settles once the restart under way (if any) has, whatever its outcome. */
  async settled(): Promise<void> {
    await this.current?.attempt.catch(() => undefined);
  }
}
