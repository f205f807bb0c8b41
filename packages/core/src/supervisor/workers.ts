import type { ChildProcess } from 'node:child_process';
import { ErrorCodes } from '../errors.js';
import { LineChannel } from '../handover/channel.js';
import type {
  DrainProgress,
  SupervisorMessage,
  WorkerLoad,
  WorkerMessage,
} from '../handover/messages.js';
import type { Successor } from '../handover/spawn.js';
import { type OnProbation, saysLeaving } from '../handover/verdict.js';
import type { WorkerRole } from './state.js';

/** A worker process, from its ready byte until it has exited. */
export interface Worker extends OnProbation {
  /** Its place in the set of `workers` (0 to N-1); a replacement takes the same place. */
  slot: number;
  /** The reload that started it (0: the first start); a crash's replacement joins its set. */
  generation: number;
  /** The directory it started in (where `current` pointed then is its release). */
  cwd: string;
  /** That directory with every symlink followed: the release it runs. */
  release: string;
  child: ChildProcess;
  messages: LineChannel<WorkerMessage, SupervisorMessage>;
  readyAt: number;
  role: WorkerRole;
  exited: Promise<number | null>;
  /** It said it drains on purpose: its exit is no crash (until it serves again). */
  saidLeaving: boolean;
  /** What it last reported carrying. */
  load: WorkerLoad | undefined;
  /** Its drain as it last reported it, once a second while connections are left. */
  drain: DrainProgress | undefined;
}

/** `pid 12` or `pids 12, 13`, as logs name a set of workers. */
export function pids(workers: Worker[]): string {
  return `${workers.length === 1 ? 'pid' : 'pids'} ${workers.map((w) => w.pid).join(', ')}`;
}

/**
 * The supervisor's workers: every live one, and the serving set by slot (an empty slot is
 * being refilled). Relays a replaced worker's last words to the worker that took its slot.
 */
export class WorkerSet {
  /** The serving set, by slot. */
  private slots: (Worker | undefined)[];
  private readonly live = new Set<Worker>();

  constructor(readonly count: number) {
    this.slots = new Array(count).fill(undefined);
  }

  /** The workers that serve now, by slot. */
  get serving(): Worker[] {
    return this.slots.filter((w): w is Worker => w !== undefined);
  }

  /** Every live worker: serving, draining or told to stop. */
  get all(): Worker[] {
    return [...this.live];
  }

  get emptySlots(): number[] {
    return this.slots.flatMap((w, slot) => (w ? [] : [slot]));
  }

  isLive(worker: Worker): boolean {
    return this.live.has(worker);
  }

  isServing(worker: Worker): boolean {
    return this.slots[worker.slot] === worker;
  }

  /**
   * Follows a new worker; `on.restartAsked` runs when it asks for a restart (its own SIGHUP),
   * `on.crashed` when it says it crashed (it stops accepting, and exits once what is in flight is
   * answered).
   */
  add(
    successor: Successor,
    at: { slot: number; generation: number; cwd: string; release: string },
    on: { restartAsked(worker: Worker): void; crashed(worker: Worker): void },
  ): Worker {
    const { child } = successor;
    const messages = new LineChannel<WorkerMessage, SupervisorMessage>(successor.channel);
    const worker: Worker = {
      ...successor,
      ...at,
      messages,
      readyAt: Date.now(),
      role: 'serving',
      exited: new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
        else child.once('exit', (code) => resolve(code));
      }),
      leaving: saysLeaving(messages),
      saidLeaving: false,
      load: undefined,
      drain: undefined,
    };
    this.live.add(worker);
    worker.messages.on('message', (message) => {
      if (message.type === 'restart') on.restartAsked(worker);
      else if (message.type === 'crashed') on.crashed(worker);
      else if (message.type === 'leaving') worker.saidLeaving = true;
      else if (message.type === 'draining') {
        const { type: _, ...progress } = message;
        worker.drain = progress;
      } else if (message.type === 'load') {
        worker.load = { connections: message.connections, requests: message.requests };
      } else if (message.type === 'hand-off') {
        const { data } = message;
        this.tellSlotSuccessor(worker, {
          type: 'handed-off',
          ...(data === undefined ? {} : { data }),
        });
      } else if (message.type === 'cut-drains') {
        for (const w of this.live) {
          if (message.pids.includes(w.pid)) w.messages.send({ type: 'cut-drain' });
        }
      } else if (message.type === 'drained') {
        this.tellSlotSuccessor(worker, { type: 'predecessor-drained', report: message.report });
      }
    });
    return worker;
  }

  /** Passes a replaced worker's last words on to the worker that now holds its slot. */
  private tellSlotSuccessor(replaced: Worker, message: SupervisorMessage): void {
    const successor = this.slots[replaced.slot];
    if (successor && successor !== replaced) successor.messages.send(message);
  }

  /** `worker` has exited: no longer live (its slot is emptied by vacate()). */
  forget(worker: Worker): void {
    this.live.delete(worker);
    worker.messages.close();
  }

  /** Empties `worker`'s slot, when it holds it. */
  vacate(worker: Worker): void {
    if (this.slots[worker.slot] === worker) this.slots[worker.slot] = undefined;
  }

  /**
   * `workers` serve from now on, each in its slot. Says what that is for the state table: the
   * set complete (`worker-ready`), or slots still empty (`slot-filled`).
   */
  place(workers: Worker[]): 'worker-ready' | 'slot-filled' {
    for (const worker of workers) this.slots[worker.slot] = worker;
    return this.slots.every((w) => w !== undefined) ? 'worker-ready' : 'slot-filled';
  }

  /** Every slot empty (a rollback refills them with the old set). */
  clear(): void {
    this.slots = new Array(this.count).fill(undefined);
  }

  /**
   * Tells workers to drain and exit (whoever stopped them waits for the exit), after serving on
   * as lame ducks for up to `lameDuckMs` (the supervisor's final stop).
   */
  stop(workers: Worker[], lameDuckMs = 0): void {
    for (const worker of workers) {
      if (!this.live.has(worker) || worker.role === 'stopping') continue;
      worker.role = 'stopping';
      // A message, not SIGTERM: a worker that got the same stop signal from the process
      // group (systemd, Ctrl-C) takes both as one stop and drains, instead of forcing.
      if (worker.messages.isClosed) worker.child.kill('SIGTERM');
      else worker.messages.send({ type: 'shutdown', lameDuckMs });
    }
  }

  /**
   * Stops every worker, and resolves with their exit codes once they, and any started until
   * `meanwhile` settles, are gone.
   */
  async stopAll(meanwhile: () => Promise<unknown>, lameDuckMs: number): Promise<(number | null)[]> {
    const all = this.all;
    this.stop(all, lameDuckMs);
    const codes = await Promise.all(all.map((w) => w.exited));
    await meanwhile();
    codes.push(...(await Promise.all(this.all.map((w) => w.exited))));
    return codes;
  }

  /** A worker that no longer serves asked for a restart: only the serving set restarts. */
  refuseRestart(worker: Worker): void {
    worker.messages.send({
      type: 'restart-failed',
      code: ErrorCodes.INVALID_STATE,
      message: 'This worker no longer serves; the supervisor restarts only the serving workers.',
    });
  }
}
