/**
 * The supervisor's lifecycle, owned in one place. Pure: `supervisorTransition` decides, the
 * supervisor acts.
 *
 *   starting ──worker-ready──▶ serving ──reload──▶ reloading ──reload-failed──▶ serving
 *                                                     │ worker-ready
 *                                                     ▼
 *                       serving ◀──probation-passed / rolled-back── probation
 *      │                          │                    │
 *      │                          └──worker-died──▶ recovering ◀──worker-died──┘
 *      │                                              │ worker-ready ──▶ serving
 *   (any live state) ──stop──▶ stopping ──stopped──▶ stopped        stopping ──stop──▶ force
 *
 * With `--workers N` the states describe the set: a reload replaces every worker at once, or K
 * at a time (`--reload-batch K`: probation ──batch-passed──▶ reloading, batch after batch),
 * `worker-ready` means every slot has a worker that said ready, and `slot-filled` that one more
 * has while others are still empty (the worker set says which: WorkerSet.place()).
 */

export const SupervisorStates = [
  'starting',
  'serving',
  'reloading',
  'probation',
  'recovering',
  'stopping',
  'stopped',
] as const;
export type SupervisorState = (typeof SupervisorStates)[number];

export const SupervisorEvents = [
  /**
   * Every worker slot is filled with a worker that said ready (first start, recovery, or a
   * reload's new set).
   */
  'worker-ready',
  /** A worker that said ready took its slot, and other slots are still empty (`--workers N`). */
  'slot-filled',
  /** A reload was asked for (signal, `reload`, or the serving worker's own request). */
  'reload',
  /** The reload's new worker failed; the serving one (if any) keeps serving. */
  'reload-failed',
  /** A serving worker died (with `--workers N`, the others serve on). */
  'worker-died',
  /** The reload's new worker lived through its probation: the old one may go. */
  'probation-passed',
  /**
   * A batch of the reload (`--reload-batch`) lived through its probation: the next batch
   * starts.
   */
  'batch-passed',
  /** The reload's new worker died on probation: the old one serves again. */
  'rolled-back',
  /** Stop everything (signal, `stop`, or giving up). */
  'stop',
  /** Every worker is gone and the listeners are released. */
  'stopped',
] as const;
export type SupervisorEvent = (typeof SupervisorEvents)[number];

/** Which part a live worker plays: the one serving, one handed over and draining, or one told to stop. */
export type WorkerRole = 'serving' | 'draining' | 'stopping';

export type SupervisorOutcome =
  | { type: 'move'; to: SupervisorState }
  | { type: 'refuse'; reason: string }
  /** A reload while one is under way: the caller joins it. */
  | { type: 'join' }
  /**
   * A reload while the last one is on probation: newer code is wanted, so the probation ends
   * now (passed) and a new reload starts from the worker that serves.
   */
  | { type: 'queue' }
  /** A second stop: the caller passes it on so that workers exit now. */
  | { type: 'force' };

const move = (to: SupervisorState): SupervisorOutcome => ({ type: 'move', to });
const refuse = (reason: string): SupervisorOutcome => ({ type: 'refuse', reason });
const NOT_SERVING = refuse('no worker is serving yet (starting, or restarting after a crash)');
const NO_RELOAD = refuse('no reload is in progress');
const STOPPING = refuse('the supervisor is stopping');
const NO_PROBATION = refuse('no reload is on probation');

const TABLE: Record<SupervisorState, Record<SupervisorEvent, SupervisorOutcome>> = {
  starting: {
    'worker-ready': move('serving'),
    'slot-filled': move('starting'),
    reload: NOT_SERVING,
    'reload-failed': NO_RELOAD,
    // One of several workers died before the others were up: the start goes on.
    'worker-died': move('starting'),
    'probation-passed': NO_PROBATION,
    'batch-passed': NO_PROBATION,
    'rolled-back': NO_PROBATION,
    stop: move('stopping'),
    stopped: refuse('the supervisor has not stopped its workers yet'),
  },
  serving: {
    'worker-ready': refuse('a worker already serves'),
    'slot-filled': refuse('every slot has a worker'),
    reload: move('reloading'),
    'reload-failed': NO_RELOAD,
    'worker-died': move('recovering'),
    'probation-passed': NO_PROBATION,
    // A crash during a batched reload, and its slot refilled since: the next batch starts.
    'batch-passed': move('reloading'),
    'rolled-back': NO_PROBATION,
    stop: move('stopping'),
    stopped: refuse('the supervisor has not stopped its workers yet'),
  },
  reloading: {
    // The new worker serves; the old one holds on until its probation ends.
    'worker-ready': move('probation'),
    'slot-filled': refuse('a reload brings a whole set'),
    reload: { type: 'join' },
    // The serving worker keeps serving.
    'reload-failed': move('serving'),
    // The reload under way may still bring a worker; if it fails, recovery starts.
    'worker-died': move('recovering'),
    'probation-passed': NO_PROBATION,
    'batch-passed': NO_PROBATION,
    'rolled-back': NO_PROBATION,
    stop: move('stopping'),
    stopped: refuse('the supervisor has not stopped its workers yet'),
  },
  probation: {
    'worker-ready': refuse('a worker already serves'),
    'slot-filled': refuse('every slot has a worker'),
    reload: { type: 'queue' },
    'reload-failed': NO_RELOAD,
    // The new worker died on probation, with no old worker left to roll back to.
    'worker-died': move('recovering'),
    'probation-passed': move('serving'),
    'batch-passed': move('reloading'),
    'rolled-back': move('serving'),
    stop: move('stopping'),
    stopped: refuse('the supervisor has not stopped its workers yet'),
  },
  recovering: {
    'worker-ready': move('serving'),
    'slot-filled': move('recovering'),
    reload: NOT_SERVING,
    // The reload that was under way when the serving worker died failed: recovery takes over.
    'reload-failed': move('recovering'),
    // Another of several workers died: its slot is refilled too.
    'worker-died': move('recovering'),
    'probation-passed': NO_PROBATION,
    // A worker died during a batched reload: the next batch refills its slot, or recovery.
    'batch-passed': move('recovering'),
    'rolled-back': NO_PROBATION,
    stop: move('stopping'),
    stopped: refuse('the supervisor has not stopped its workers yet'),
  },
  stopping: {
    'worker-ready': STOPPING,
    'slot-filled': STOPPING,
    reload: STOPPING,
    // A start aborted by the stop, and workers ending: the stop goes on.
    'reload-failed': move('stopping'),
    'worker-died': move('stopping'),
    'probation-passed': move('stopping'),
    'batch-passed': move('stopping'),
    'rolled-back': move('stopping'),
    stop: { type: 'force' },
    stopped: move('stopped'),
  },
  stopped: {
    'worker-ready': refuse('the supervisor has stopped'),
    'slot-filled': refuse('the supervisor has stopped'),
    reload: refuse('the supervisor has stopped'),
    'reload-failed': refuse('the supervisor has stopped'),
    'worker-died': refuse('the supervisor has stopped'),
    'probation-passed': refuse('the supervisor has stopped'),
    'batch-passed': refuse('the supervisor has stopped'),
    'rolled-back': refuse('the supervisor has stopped'),
    stop: refuse('the supervisor has stopped'),
    stopped: refuse('the supervisor has stopped'),
  },
};

export function supervisorTransition(
  state: SupervisorState,
  event: SupervisorEvent,
): SupervisorOutcome {
  return TABLE[state][event];
}

/**
 * States in which a worker slot is empty and a worker is being brought up for it (with backoff
 * after failures). With `--workers N` the other workers serve meanwhile.
 */
export function needsWorker(state: SupervisorState): boolean {
  return state === 'starting' || state === 'recovering';
}

/** True once a stop has begun: a worker that becomes ready now is stopped with the others. */
export function isStopping(state: SupervisorState): boolean {
  return state === 'stopping' || state === 'stopped';
}
