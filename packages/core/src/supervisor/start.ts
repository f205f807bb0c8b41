import { realpathSync } from 'node:fs';
import { describeCommand, nextDirectory } from '../command.js';
import { startEnvironment } from '../environment.js';
import { startSuccessor } from '../handover/spawn.js';
import { LAME_DUCK_ENV } from '../lame-duck-setting.js';
import type { HeldListener } from '../sockets/held.js';
import type { SupervisorLog } from './log-lines.js';
import type { ResolvedSupervisorOptions } from './options.js';
import { pids, type Worker, type WorkerSet } from './workers.js';

/** Starts workers with the held listeners, one or a whole set side by side. */
export class WorkerStarter {
  /** A stop aborts every start under way. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly options: ResolvedSupervisorOptions,
    private readonly workers: WorkerSet,
    private readonly held: () => HeldListener[],
    private readonly log: SupervisorLog,
    /** What the supervisor does when a worker asks for a restart, and once it has exited. */
    private readonly on: {
      restartAsked(worker: Worker): void;
      crashed(worker: Worker): void;
      exited(worker: Worker): void;
    },
  ) {}

  /** The workers' command line, as it reads in logs and status. */
  get commandLine(): string {
    const [execPath, ...args] = this.options.command;
    return describeCommand(execPath, args);
  }

  /** The stop aborts the starts under way, and the backoff waits. */
  get aborted(): AbortSignal {
    return this.stopping.signal;
  }

  abortAll(): void {
    this.stopping.abort();
  }

  /**
   * Starts one worker per slot, side by side, and resolves once every one is ready. When one
   * fails, the starts under way are aborted and the ones already ready are stopped.
   */
  async startSet(
    slots: number[],
    generation: number,
    release?: (slot: number) => string,
  ): Promise<Worker[]> {
    const failed = new AbortController();
    // The first failure says why; the starts still under way are aborted because of it.
    let firstFailure: { error: unknown } | undefined;
    const started = await Promise.allSettled(
      slots.map((slot) =>
        this.start(slot, generation, failed.signal, release?.(slot)).catch((error: unknown) => {
          firstFailure ??= { error };
          failed.abort();
          throw error;
        }),
      ),
    );
    const ready = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    if (!firstFailure) return ready;
    this.workers.stop(ready);
    throw firstFailure.error;
  }

  /**
   * Starts a worker for each empty slot (at start, after a crash); each takes its slot once
   * ready (`place`), and accepts from then on, so status says so.
   */
  async fillEmptySlots(generation: number, place: (workers: Worker[]) => boolean): Promise<void> {
    const empty = this.workers.emptySlots;
    if (empty.length === 0) {
      place([]);
      return;
    }
    const { commandLine } = this;
    await Promise.allSettled(
      empty.map((slot) =>
        this.start(slot, generation).then(
          (worker) => place([worker]) && this.log.workerServes(worker, commandLine),
          (error: Error) => this.log.workerStartFailed(error),
        ),
      ),
    );
  }

  /**
   * Starts a worker for `slot` in the next directory, or in `release` (a rollback's earlier
   * release, by its physical directory).
   */
  async start(
    slot: number,
    generation: number,
    abort?: AbortSignal,
    release?: string,
  ): Promise<Worker> {
    const [execPath, ...args] = this.options.command;
    // Resolved at every start, so that a swapped release symlink is followed; $PWD tells the
    // worker the same logical directory.
    const cwd = release ?? nextDirectory(this.options.cwd);
    const at = { slot, generation, cwd, release: physical(cwd) };
    const env: NodeJS.ProcessEnv = {
      ...(this.options.env ?? startEnvironment()),
      PWD: cwd,
      // A worker's own stop signal (the process group's copy) gets the supervisor's lame duck too.
      [LAME_DUCK_ENV]: String(this.options.lameDuck.ms),
    };
    // systemd hears from the supervisor only; socket activation was taken by it.
    delete env['NOTIFY_SOCKET'];
    const serving = this.workers.serving;
    const successor = await startSuccessor({
      // Into the release as resolved: what `release` says is where it runs.
      command: { execPath, args, env, cwd: at.release },
      listeners: this.held().map((h) => ({ listener: h.entry, fd: h.fd })),
      readyTimeoutMs: this.options.readyTimeoutMs,
      signal: abort ? AbortSignal.any([this.stopping.signal, abort]) : this.stopping.signal,
      supervised: true,
      workers: this.options.workerCount,
      wording: {
        meanwhile:
          serving.length > 0
            ? `${pids(serving)} keep${serving.length === 1 ? 's' : ''} serving`
            : 'no worker serves yet: connections wait in the listen backlog while the supervisor retries',
        readyTimeoutKnob: 'graceful-restart run --ready-timeout',
      },
    });
    const worker = this.workers.add(successor, at, this.on);
    void worker.exited.then(() => this.on.exited(worker));
    return worker;
  }
}

/**
 * `dir` with its symlinks followed, just before the child changes into it: the release it will
 * run even if `current` is swapped while it starts. The path as given if it is gone.
 */
function physical(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}
