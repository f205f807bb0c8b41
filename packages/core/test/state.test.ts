import { describe, expect, it } from 'vitest';
import {
  allows,
  Events,
  hasDrainBegun,
  isShuttingDown,
  isStarting,
  type Outcome,
  type State,
  type StateEvent,
  States,
  transition,
} from '../src/generation/state.js';

// Every (state, event) pair and its one outcome. A change to the machine must change this table.
const outgoing = {
  listen: 'refuse',
  ready: 'refuse',
  restart: 'refuse',
  'restart-succeeded': 'refuse',
  'restart-failed': 'refuse',
  rollback: 'refuse',
  shutdown: 'force',
  'lame-duck': 'force',
  'lame-duck-over': 'refuse',
  crash: 'join',
  drained: 'stopped',
};
const expected: Record<State, Record<StateEvent, string>> = {
  starting: {
    listen: 'starting',
    ready: 'serving',
    restart: 'refuse',
    'restart-succeeded': 'refuse',
    'restart-failed': 'refuse',
    rollback: 'refuse',
    shutdown: 'stopping',
    'lame-duck': 'stopping',
    'lame-duck-over': 'refuse',
    crash: 'refuse',
    drained: 'refuse',
  },
  'taking-over': {
    listen: 'taking-over',
    ready: 'serving',
    restart: 'refuse',
    'restart-succeeded': 'refuse',
    'restart-failed': 'refuse',
    rollback: 'refuse',
    shutdown: 'leaving',
    'lame-duck': 'leaving',
    'lame-duck-over': 'refuse',
    crash: 'refuse',
    drained: 'refuse',
  },
  serving: {
    listen: 'refuse',
    ready: 'refuse',
    restart: 'restarting',
    'restart-succeeded': 'refuse',
    'restart-failed': 'refuse',
    rollback: 'refuse',
    shutdown: 'stopping',
    'lame-duck': 'lame-duck',
    'lame-duck-over': 'refuse',
    crash: 'crashing',
    drained: 'refuse',
  },
  restarting: {
    listen: 'refuse',
    ready: 'refuse',
    restart: 'refuse',
    'restart-succeeded': 'draining',
    'restart-failed': 'serving',
    rollback: 'refuse',
    shutdown: 'stopping',
    'lame-duck': 'lame-duck',
    'lame-duck-over': 'refuse',
    crash: 'crashing',
    drained: 'refuse',
  },
  draining: {
    listen: 'refuse',
    ready: 'refuse',
    restart: 'refuse',
    'restart-succeeded': 'refuse',
    'restart-failed': 'refuse',
    rollback: 'serving',
    shutdown: 'leaving',
    'lame-duck': 'leaving',
    'lame-duck-over': 'refuse',
    crash: 'join',
    drained: 'stopped',
  },
  'lame-duck': { ...outgoing, 'lame-duck-over': 'stopping', drained: 'refuse' },
  crashing: outgoing,
  stopping: outgoing,
  leaving: outgoing,
  stopped: {
    listen: 'refuse',
    ready: 'refuse',
    restart: 'refuse',
    'restart-succeeded': 'refuse',
    'restart-failed': 'refuse',
    rollback: 'refuse',
    shutdown: 'join',
    'lame-duck': 'join',
    'lame-duck-over': 'refuse',
    crash: 'join',
    drained: 'refuse',
  },
};

const summary = (o: Outcome) => (o.type === 'move' ? o.to : o.type);

describe('state machine', () => {
  const pairs = States.flatMap((state) => Events.map((event) => [state, event] as const));
  it('covers all 110 pairs', () => expect(pairs).toHaveLength(110));
  it.each(pairs)('%s + %s', (state, event) => {
    const outcome = transition(state, event);
    expect(summary(outcome)).toBe(expected[state][event]);
    if (outcome.type === 'refuse') expect(outcome.reason.length).toBeGreaterThan(10);
  });
  it('reports shutting down only when on the way out for good', () => {
    expect(States.filter(isShuttingDown)).toEqual([
      'lame-duck',
      'crashing',
      'stopping',
      'leaving',
      'stopped',
    ]);
  });
  it('accepts listeners only before ready', () => {
    expect(States.filter(isStarting)).toEqual(['starting', 'taking-over']);
  });
  it('knows when a drain has begun: a supervisor that goes then changes nothing', () => {
    expect(States.filter(hasDrainBegun)).toEqual([
      'crashing',
      'draining',
      'stopping',
      'leaving',
      'stopped',
    ]);
  });
  it('asks the table whether news still applies: a rollback only while draining after a handover', () => {
    expect(States.filter((state) => allows(state, 'rollback'))).toEqual(['draining']);
    // A shutdown during the probation (draining -> leaving) rules out the rollback.
    expect(allows('leaving', 'rollback')).toBe(false);
    expect(States.filter((state) => allows(state, 'restart-failed'))).toEqual(['restarting']);
    expect(States.filter((state) => allows(state, 'restart'))).toEqual(['serving']);
  });
});
