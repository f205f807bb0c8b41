/**
 * The lifecycle of one generation, owned in one place. Pure: `transition` decides, the
 * generation acts.
 *
 *   starting ───┐                                                        (first generation: owns what it binds)
 *   taking-over ┴─ready─▶ serving ─restart─▶ restarting ─succeeded─▶ draining ─drained─▶ stopped
 *                           ▲                    │ failed                │ shutdown
 *                           └────────────────────┘                       ▼
 *   starting, serving, restarting ─shutdown─▶ stopping   (final: removes its Unix paths and PID file)
 *   serving, restarting ─lame-duck─▶ lame-duck ─lame-duck-over─▶ stopping
 *                        (a final shutdown that first serves on, readiness 503, until the balancer has moved off)
 *   taking-over, draining         ─shutdown─▶ leaving    (owns nothing: the other generation keeps them)
 *   stopping, leaving ─drained─▶ stopped; ─shutdown─▶ force (a second signal exits at once)
 *   draining ─rollback─▶ serving   (the next generation died on probation: this one serves again)
 *   serving, restarting ─crash─▶ crashing ─drained─▶ stopped
 *                        (an uncaught exception: the listeners go to a fresh generation, or close)
 */

export const States = [
  'starting',
  'taking-over',
  'serving',
  'restarting',
  'lame-duck',
  'crashing',
  'draining',
  'stopping',
  'leaving',
  'stopped',
] as const;
export type State = (typeof States)[number];

export const Events = [
  'listen',
  'ready',
  'restart',
  'restart-succeeded',
  'restart-failed',
  'rollback',
  'shutdown',
  'lame-duck',
  'lame-duck-over',
  'crash',
  'drained',
] as const;
export type StateEvent = (typeof Events)[number];

export type Outcome =
  /** Move to `to` (or stay, when `to` is the current state). */
  | { type: 'move'; to: State }
  /** Refuse the request: the caller gets a typed error with `reason`. */
  | { type: 'refuse'; reason: string }
  /** A shutdown while one is over already: join its drain. */
  | { type: 'join' }
  /** A repeated shutdown request while stopping: a signal exits now, non-zero; code joins the drain. */
  | { type: 'force' };

const move = (to: State): Outcome => ({ type: 'move', to });
const refuse = (reason: string): Outcome => ({ type: 'refuse', reason });
const LISTEN_LATE = refuse('listen() must be called before ready()');
const READY_TWICE = refuse('ready() was already called');
const NO_RESTART = refuse('no restart is in progress');
const NOT_DRAINING = refuse('nothing is draining');
const NO_PROBATION = refuse('no handover is on probation');
const STILL_STARTING = refuse('the server is still starting; call ready() first');
const SHUTTING_DOWN = refuse('the server is shutting down');
const NO_LAME_DUCK = refuse('no lame duck is under way');

/** What a generation on its way out does: a second shutdown forces, the drain ends in stopped. */
const outgoing: Record<StateEvent, Outcome> = {
  listen: SHUTTING_DOWN,
  ready: SHUTTING_DOWN,
  restart: SHUTTING_DOWN,
  'restart-succeeded': NO_RESTART,
  'restart-failed': NO_RESTART,
  // Asked to leave: no rollback, whatever becomes of the next generation.
  rollback: refuse('this generation was asked to stop'),
  shutdown: { type: 'force' },
  'lame-duck': { type: 'force' },
  'lame-duck-over': NO_LAME_DUCK,
  // Already on its way out: the drain under way goes on, bounded by the crash deadline.
  crash: { type: 'join' },
  drained: move('stopped'),
};
/** A crash before ready: nothing was handed to this generation to hand on. */
const CRASHED_STARTING = refuse('the generation crashed before it was ready');

const TABLE: Record<State, Record<StateEvent, Outcome>> = {
  starting: {
    listen: move('starting'),
    ready: move('serving'),
    restart: STILL_STARTING,
    'restart-succeeded': NO_RESTART,
    'restart-failed': NO_RESTART,
    rollback: NO_PROBATION,
    shutdown: move('stopping'),
    // Not ready yet: no balancer sends here, nothing to wait for.
    'lame-duck': move('stopping'),
    'lame-duck-over': NO_LAME_DUCK,
    crash: CRASHED_STARTING,
    drained: NOT_DRAINING,
  },
  'taking-over': {
    listen: move('taking-over'),
    ready: move('serving'),
    restart: STILL_STARTING,
    'restart-succeeded': NO_RESTART,
    'restart-failed': NO_RESTART,
    rollback: NO_PROBATION,
    // Stopped before it was ready: the serving generation still owns the paths and PID file.
    shutdown: move('leaving'),
    'lame-duck': move('leaving'),
    'lame-duck-over': NO_LAME_DUCK,
    crash: CRASHED_STARTING,
    drained: NOT_DRAINING,
  },
  serving: {
    listen: LISTEN_LATE,
    ready: READY_TWICE,
    restart: move('restarting'),
    'restart-succeeded': NO_RESTART,
    'restart-failed': NO_RESTART,
    rollback: NO_PROBATION,
    shutdown: move('stopping'),
    'lame-duck': move('lame-duck'),
    'lame-duck-over': NO_LAME_DUCK,
    crash: move('crashing'),
    drained: NOT_DRAINING,
  },
  restarting: {
    listen: LISTEN_LATE,
    ready: READY_TWICE,
    restart: refuse('a restart is already in progress'),
    'restart-succeeded': move('draining'),
    'restart-failed': move('serving'),
    rollback: NO_PROBATION,
    // The successor is stopped and this generation shuts down for good.
    shutdown: move('stopping'),
    'lame-duck': move('lame-duck'),
    'lame-duck-over': NO_LAME_DUCK,
    crash: move('crashing'),
    drained: NOT_DRAINING,
  },
  // On its way out after an uncaught exception: a stop signal now exits at once.
  crashing: outgoing,
  'lame-duck': {
    ...outgoing,
    // A repeated shutdown request: a signal ends the lame duck (see stopAction); code joins.
    'lame-duck-over': move('stopping'),
    drained: NOT_DRAINING,
  },
  draining: {
    listen: LISTEN_LATE,
    ready: READY_TWICE,
    restart: refuse('this generation has handed over and is draining'),
    'restart-succeeded': NO_RESTART,
    'restart-failed': NO_RESTART,
    // The next generation died on probation: this one serves again.
    rollback: move('serving'),
    // The drain under way continues (the probation ends: no rollback); from now on a second
    // shutdown request forces the exit.
    shutdown: move('leaving'),
    // Another generation serves the address: the balancer keeps sending there.
    'lame-duck': move('leaving'),
    'lame-duck-over': NO_LAME_DUCK,
    crash: { type: 'join' },
    drained: move('stopped'),
  },
  stopping: outgoing,
  leaving: outgoing,
  stopped: {
    listen: refuse('the server has stopped'),
    ready: refuse('the server has stopped'),
    restart: refuse('the server has stopped'),
    'restart-succeeded': NO_RESTART,
    'restart-failed': NO_RESTART,
    rollback: refuse('the server has stopped'),
    shutdown: { type: 'join' },
    'lame-duck': { type: 'join' },
    'lame-duck-over': NO_LAME_DUCK,
    crash: { type: 'join' },
    drained: refuse('the server has stopped'),
  },
};

export function transition(state: State, event: StateEvent): Outcome {
  return TABLE[state][event];
}

/** True while this generation is on its way out for good (a lame duck too): readiness answers 503. */
export function isShuttingDown(state: State): boolean {
  return (
    state === 'lame-duck' ||
    state === 'crashing' ||
    state === 'stopping' ||
    state === 'leaving' ||
    state === 'stopped'
  );
}

/** True before ready(): listeners may be declared, a restart signal waits for ready. */
export function isStarting(state: State): boolean {
  return state === 'starting' || state === 'taking-over';
}

/** True when the table would move on `event` now: asked before acting on news that may be stale. */
export function allows(state: State, event: StateEvent): boolean {
  return transition(state, event).type === 'move';
}

/** True once this generation's drain has begun (a handover's or a shutdown's), or is over. */
export function hasDrainBegun(state: State): boolean {
  return (
    state === 'draining' ||
    state === 'crashing' ||
    state === 'stopping' ||
    state === 'leaving' ||
    state === 'stopped'
  );
}
