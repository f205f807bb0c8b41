import { describe, expect, it } from 'vitest';
import {
  needsWorker,
  type SupervisorEvent,
  SupervisorEvents,
  type SupervisorOutcome,
  type SupervisorState,
  SupervisorStates,
  supervisorTransition,
} from '../src/supervisor/state.js';
import { Supervisor } from '../src/supervisor/supervisor.js';

// Every (state, event) pair of the supervisor and its one outcome, as for a generation.
const expected: Record<SupervisorState, Record<SupervisorEvent, string>> = {
  starting: {
    'worker-ready': 'serving',
    'slot-filled': 'starting',
    reload: 'refuse',
    'reload-failed': 'refuse',
    'worker-died': 'starting',
    'probation-passed': 'refuse',
    'batch-passed': 'refuse',
    'rolled-back': 'refuse',
    stop: 'stopping',
    stopped: 'refuse',
  },
  serving: {
    'worker-ready': 'refuse',
    'slot-filled': 'refuse',
    reload: 'reloading',
    'reload-failed': 'refuse',
    'worker-died': 'recovering',
    'probation-passed': 'refuse',
    'batch-passed': 'reloading',
    'rolled-back': 'refuse',
    stop: 'stopping',
    stopped: 'refuse',
  },
  reloading: {
    'worker-ready': 'probation',
    'slot-filled': 'refuse',
    reload: 'join',
    'reload-failed': 'serving',
    'worker-died': 'recovering',
    'probation-passed': 'refuse',
    'batch-passed': 'refuse',
    'rolled-back': 'refuse',
    stop: 'stopping',
    stopped: 'refuse',
  },
  probation: {
    'worker-ready': 'refuse',
    'slot-filled': 'refuse',
    reload: 'queue',
    'reload-failed': 'refuse',
    'worker-died': 'recovering',
    'probation-passed': 'serving',
    'batch-passed': 'reloading',
    'rolled-back': 'serving',
    stop: 'stopping',
    stopped: 'refuse',
  },
  recovering: {
    'worker-ready': 'serving',
    'slot-filled': 'recovering',
    reload: 'refuse',
    'reload-failed': 'recovering',
    'worker-died': 'recovering',
    'probation-passed': 'refuse',
    'batch-passed': 'recovering',
    'rolled-back': 'refuse',
    stop: 'stopping',
    stopped: 'refuse',
  },
  stopping: {
    'worker-ready': 'refuse',
    'slot-filled': 'refuse',
    reload: 'refuse',
    'reload-failed': 'stopping',
    'worker-died': 'stopping',
    'probation-passed': 'stopping',
    'batch-passed': 'stopping',
    'rolled-back': 'stopping',
    stop: 'force',
    stopped: 'stopped',
  },
  stopped: {
    'worker-ready': 'refuse',
    'slot-filled': 'refuse',
    reload: 'refuse',
    'reload-failed': 'refuse',
    'worker-died': 'refuse',
    'probation-passed': 'refuse',
    'batch-passed': 'refuse',
    'rolled-back': 'refuse',
    stop: 'refuse',
    stopped: 'refuse',
  },
};

const summary = (o: SupervisorOutcome) => (o.type === 'move' ? o.to : o.type);

describe('supervisor state machine', () => {
  const pairs = SupervisorStates.flatMap((state) =>
    SupervisorEvents.map((event) => [state, event] as const),
  );
  it('covers all 70 pairs', () => expect(pairs).toHaveLength(70));
  it.each(pairs)('%s + %s', (state, event) => {
    const outcome = supervisorTransition(state, event);
    expect(summary(outcome)).toBe(expected[state][event]);
    if (outcome.type === 'refuse') expect(outcome.reason.length).toBeGreaterThan(10);
  });
  it('brings a worker up only while none serves and no stop is under way', () => {
    expect(SupervisorStates.filter(needsWorker)).toEqual(['starting', 'recovering']);
  });
  it('refuses a reload with the reason its error names', () => {
    expect(supervisorTransition('starting', 'reload')).toEqual({
      type: 'refuse',
      reason: 'no worker is serving yet (starting, or restarting after a crash)',
    });
    expect(supervisorTransition('stopping', 'reload')).toEqual({
      type: 'refuse',
      reason: 'the supervisor is stopping',
    });
  });
});

describe('supervisor workers option', () => {
  it.each([0, -1, 1.5, 2000, Number.NaN])(
    'refuses workers: %s with the range and the flag',
    (workers) => {
      expect(
        () =>
          new Supervisor({
            command: ['node', 'app.js'],
            listeners: [],
            controlPath: '/nowhere',
            workers,
          }),
      ).toThrow(
        expect.objectContaining({
          code: 'ERR_GRACEFUL_INVALID_OPTION',
          message: expect.stringMatching(
            /workers must be a whole number from 1 to 1024 \(got .*\); with the CLI, --workers N or --workers auto/,
          ),
        }),
      );
    },
  );
});

describe('supervisor reloadBatch option', () => {
  it.each([0, -1, 1.5, Number.NaN])(
    'refuses reloadBatch: %s with the flag to use',
    (reloadBatch) => {
      expect(
        () =>
          new Supervisor({
            command: ['node', 'app.js'],
            listeners: [],
            controlPath: '/nowhere',
            workers: 4,
            reloadBatch,
          }),
      ).toThrow(
        expect.objectContaining({
          code: 'ERR_GRACEFUL_INVALID_OPTION',
          message: expect.stringMatching(
            /reloadBatch must be a whole number from 1 \(got .*\); with the CLI, --reload-batch K/,
          ),
        }),
      );
    },
  );
});
