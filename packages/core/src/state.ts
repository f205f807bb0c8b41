/**
 * The lifecycle of one generation, owned in one place. Pure: `transition` decides, the caller acts.
 *
 *   starting ──ready──▶ serving ──restart──▶ restarting ──succeeded──▶ draining ──drained──▶ stopped
 *                          ▲                     │ failed                    │ shutdown
 *                          └─────────────────────┘                          ▼
 *   (any live state) ──shutdown──▶ stopping ──drained──▶ stopped    stopping ──shutdown──▶ forced exit
 */

export const States = [
  'starting',
  'serving',
  'restarting',
  'draining',
  'stopping',
  'stopped',
] as const;
export type State = (typeof States)[number];

export const Events = [
  'ready',
  'restart',
  'restart-succeeded',
  'restart-failed',
  'shutdown',
  'drained',
] as const;
export type StateEvent = (typeof Events)[number];

export type Outcome =
  /** Move to `to`. */
  | { type: 'move'; to: State }
  /** Refuse the request: the caller gets a typed error with `reason`. */
  | { type: 'refuse'; reason: string }
  /** A repeated shutdown request while already stopping: exit now, non-zero. */
  | { type: 'force' };

const move = (to: State): Outcome => ({ type: 'move', to });
const refuse = (reason: string): Outcome => ({ type: 'refuse', reason });

const TABLE: Record<State, Record<StateEvent, Outcome>> = {
  starting: {
    ready: move('serving'),
    restart: refuse('the server is still starting; call ready() first'),
    'restart-succeeded': refuse('no restart is in progress'),
    'restart-failed': refuse('no restart is in progress'),
    shutdown: move('stopping'),
    drained: refuse('nothing is draining'),
  },
  serving: {
    ready: refuse('ready() was already called'),
    restart: move('restarting'),
    'restart-succeeded': refuse('no restart is in progress'),
    'restart-failed': refuse('no restart is in progress'),
    shutdown: move('stopping'),
    drained: refuse('nothing is draining'),
  },
  restarting: {
    ready: refuse('ready() was already called'),
    restart: refuse('a restart is already in progress'),
    'restart-succeeded': move('draining'),
    'restart-failed': move('serving'),
    // The successor is stopped and this generation shuts down for good.
    shutdown: move('stopping'),
    drained: refuse('nothing is draining'),
  },
  draining: {
    ready: refuse('ready() was already called'),
    restart: refuse('this generation has handed over and is draining'),
    'restart-succeeded': refuse('no restart is in progress'),
    'restart-failed': refuse('no restart is in progress'),
    // The drain continues; from now on a second shutdown request forces the exit.
    shutdown: move('stopping'),
    drained: move('stopped'),
  },
  stopping: {
    ready: refuse('the server is shutting down'),
    restart: refuse('the server is shutting down'),
    'restart-succeeded': refuse('no restart is in progress'),
    'restart-failed': refuse('no restart is in progress'),
    shutdown: { type: 'force' },
    drained: move('stopped'),
  },
  stopped: {
    ready: refuse('the server has stopped'),
    restart: refuse('the server has stopped'),
    'restart-succeeded': refuse('no restart is in progress'),
    'restart-failed': refuse('no restart is in progress'),
    shutdown: refuse('the server has stopped'),
    drained: refuse('the server has stopped'),
  },
};

export function transition(state: State, event: StateEvent): Outcome {
  return TABLE[state][event];
}

/** True while this generation is on its way out for good: health routes answer 503. */
export function isShuttingDown(state: State): boolean {
  return state === 'stopping' || state === 'stopped';
}
