import { describe, expect, it } from 'vitest';
import {
  Events,
  isShuttingDown,
  type Outcome,
  type State,
  type StateEvent,
  States,
  transition,
} from '../src/state.js';

// Every (state, event) pair and its one outcome. A change to the machine must change this table.
const expected: Record<State, Record<StateEvent, string>> = {
  starting: {
    ready: 'serving',
    restart: 'refuse',
    'restart-succeeded': 'refuse',
    'restart-failed': 'refuse',
    shutdown: 'stopping',
    drained: 'refuse',
  },
  serving: {
    ready: 'refuse',
    restart: 'restarting',
    'restart-succeeded': 'refuse',
    'restart-failed': 'refuse',
    shutdown: 'stopping',
    drained: 'refuse',
  },
  restarting: {
    ready: 'refuse',
    restart: 'refuse',
    'restart-succeeded': 'draining',
    'restart-failed': 'serving',
    shutdown: 'stopping',
    drained: 'refuse',
  },
  draining: {
    ready: 'refuse',
    restart: 'refuse',
    'restart-succeeded': 'refuse',
    'restart-failed': 'refuse',
    shutdown: 'stopping',
    drained: 'stopped',
  },
  stopping: {
    ready: 'refuse',
    restart: 'refuse',
    'restart-succeeded': 'refuse',
    'restart-failed': 'refuse',
    shutdown: 'force',
    drained: 'stopped',
  },
  stopped: {
    ready: 'refuse',
    restart: 'refuse',
    'restart-succeeded': 'refuse',
    'restart-failed': 'refuse',
    shutdown: 'refuse',
    drained: 'refuse',
  },
};

const summary = (o: Outcome) => (o.type === 'move' ? o.to : o.type);

describe('state machine', () => {
  const pairs = States.flatMap((state) => Events.map((event) => [state, event] as const));
  it('covers all 36 pairs', () => expect(pairs).toHaveLength(36));
  it.each(pairs)('%s + %s', (state, event) => {
    const outcome = transition(state, event);
    expect(summary(outcome)).toBe(expected[state][event]);
    if (outcome.type === 'refuse') expect(outcome.reason.length).toBeGreaterThan(10);
  });
  it('reports shutting down only when stopping for good', () => {
    expect(States.filter(isShuttingDown)).toEqual(['stopping', 'stopped']);
  });
});
