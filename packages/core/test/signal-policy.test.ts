// The generation's signal policy: pure decisions, as the state table's tests take them.
import { describe, expect, it } from 'vitest';
import {
  restartSignalAction,
  SignalMemory,
  shutdownEvent,
  stopAction,
} from '../src/generation/signal-policy.js';
import { type State, States, transition } from '../src/generation/state.js';

const hungUp = () => true;
const open = () => false;

describe('a restart signal', () => {
  it('before ready() is deferred until ready, after it restarts', () => {
    const actions = Object.fromEntries(
      States.map((state) => [state, restartSignalAction(state, 'SIGHUP', open)]),
    );
    expect(actions).toEqual({
      starting: 'defer',
      'taking-over': 'defer',
      serving: 'restart',
      restarting: 'restart',
      'lame-duck': 'restart',
      crashing: 'restart',
      draining: 'restart',
      stopping: 'restart',
      leaving: 'restart',
      stopped: 'restart',
    });
  });

  it("is the terminal's hangup only as a SIGHUP once the terminal has hung up, in any state", () => {
    for (const state of States) {
      expect(restartSignalAction(state, 'SIGHUP', hungUp)).toBe('hang-up');
      expect(restartSignalAction(state, 'SIGUSR2', hungUp)).not.toBe('hang-up');
    }
  });
});

describe('a shutdown', () => {
  const first = { signal: true, firstSignal: true, msSinceSupervisorStop: undefined };
  const afterFor = (state: State) => transition(state, 'shutdown');

  it('starts the drain when the table moves on', () => {
    for (const state of ['starting', 'taking-over', 'serving', 'restarting', 'draining'] as const) {
      expect(stopAction(afterFor(state), first)).toBe('start');
    }
  });

  it('from code joins the drain under way; so does one once stopped', () => {
    const fromCode = { signal: false, firstSignal: false, msSinceSupervisorStop: undefined };
    expect(stopAction(afterFor('stopping'), fromCode)).toBe('join');
    expect(stopAction(afterFor('leaving'), fromCode)).toBe('join');
    expect(stopAction(afterFor('stopped'), first)).toBe('join');
  });

  it('by a second signal exits now', () => {
    const second = { signal: true, firstSignal: false, msSinceSupervisorStop: undefined };
    expect(stopAction(afterFor('stopping'), second)).toBe('exit-now');
    expect(stopAction(afterFor('leaving'), second)).toBe('exit-now');
  });

  it("by the process group's signal right after the supervisor's stop message is the same stop", () => {
    const group = (ms: number) => ({ signal: true, firstSignal: true, msSinceSupervisorStop: ms });
    expect(stopAction(afterFor('stopping'), group(0))).toBe('same-stop');
    expect(stopAction(afterFor('stopping'), group(999))).toBe('same-stop');
    // Too late to be the same: a second stop.
    expect(stopAction(afterFor('stopping'), group(1000))).toBe('exit-now');
    // Not the first signal: a second stop, however soon.
    const again = { signal: true, firstSignal: false, msSinceSupervisorStop: 10 };
    expect(stopAction(afterFor('stopping'), again)).toBe('exit-now');
  });
});

describe('a shutdown with a lame duck', () => {
  const lameDuckFor = (state: State) => transition(state, shutdownEvent({ ms: 5000 }, 'SIGTERM'));

  it('is a lame duck only from serving or a restart in progress; elsewhere the same as without', () => {
    expect(shutdownEvent({ ms: 0 }, 'SIGTERM')).toBe('shutdown');
    expect(shutdownEvent({ ms: 1 }, 'SIGTERM')).toBe('lame-duck');
    expect(shutdownEvent({ ms: 1 }, undefined)).toBe('lame-duck');
    // A platform's default is for the platform's stop signal, not a shutdown() from code.
    expect(shutdownEvent({ ms: 5000, signalsOnly: true }, 'SIGTERM')).toBe('lame-duck');
    expect(shutdownEvent({ ms: 5000, signalsOnly: true }, undefined)).toBe('shutdown');
    const moves = Object.fromEntries(States.map((state) => [state, lameDuckFor(state)]));
    expect(moves).toMatchObject({
      serving: { type: 'move', to: 'lame-duck' },
      restarting: { type: 'move', to: 'lame-duck' },
      // Not ready yet, or another generation serves the address: nothing to wait for.
      starting: { type: 'move', to: 'stopping' },
      'taking-over': { type: 'move', to: 'leaving' },
      draining: { type: 'move', to: 'leaving' },
    });
  });

  it('a second signal during the lame duck ends it; from code it joins; a third signal exits now', () => {
    const second = { signal: true, firstSignal: false, msSinceSupervisorStop: undefined };
    const fromCode = { signal: false, firstSignal: false, msSinceSupervisorStop: undefined };
    expect(stopAction(lameDuckFor('lame-duck'), second, true)).toBe('end-lame-duck');
    expect(stopAction(transition('lame-duck', 'shutdown'), second, true)).toBe('end-lame-duck');
    expect(stopAction(lameDuckFor('lame-duck'), fromCode, true)).toBe('join');
    expect(stopAction(lameDuckFor('stopping'), second, false)).toBe('exit-now');
    // The process group's copy of the supervisor's stop is still the same stop.
    const group = { signal: true, firstSignal: true, msSinceSupervisorStop: 5 };
    expect(stopAction(lameDuckFor('lame-duck'), group, true)).toBe('same-stop');
  });
});

describe('what a generation remembers of its signals', () => {
  it("times the supervisor's stop message, unless a stop signal came first", () => {
    const memory = new SignalMemory();
    memory.supervisorStopped(1000);
    expect(memory.record('SIGTERM', 1200)).toEqual({
      signal: true,
      firstSignal: true,
      msSinceSupervisorStop: 200,
    });
    memory.joined();
    // After the group's copy, another signal is a second one.
    expect(memory.record('SIGTERM', 1300)).toEqual({
      signal: true,
      firstSignal: false,
      msSinceSupervisorStop: undefined,
    });

    const signalFirst = new SignalMemory();
    expect(signalFirst.record('SIGINT', 0).firstSignal).toBe(true);
    signalFirst.supervisorStopped(10);
    expect(signalFirst.record('SIGINT', 20).msSinceSupervisorStop).toBeUndefined();
  });

  it('a shutdown from code is no signal, and does not use up the first one', () => {
    const memory = new SignalMemory();
    expect(memory.record(undefined)).toMatchObject({ signal: false, firstSignal: false });
    expect(memory.record('SIGTERM').firstSignal).toBe(true);
  });

  it('hands a deferred restart signal back once', () => {
    const memory = new SignalMemory();
    expect(memory.takeDeferred()).toBeUndefined();
    memory.defer('SIGHUP');
    memory.defer('SIGUSR2');
    expect(memory.takeDeferred()).toBe('SIGUSR2');
    expect(memory.takeDeferred()).toBeUndefined();
  });
});
