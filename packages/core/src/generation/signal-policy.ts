/**
 * What a generation makes of its signals, decided by pure functions (unit tested in
 * signal-policy.test.ts): a restart signal during startup, a terminal's hangup, a stop signal
 * that reaches the whole process group together with the supervisor's stop message, and a
 * second stop signal that exits at once.
 */
import { isStarting, type Outcome, type State } from './state.js';

/** How long after the supervisor's stop message a stop signal still counts as the same stop. */
const GROUP_SIGNAL_WINDOW_MS = 1_000;

/**
 * A restart signal: `hang-up` when it is a SIGHUP from the terminal's hangup (a closed terminal is no deploy:
 * restarting would leave a server running after logout), `defer` before ready() (the code and
 * config on disk may have changed since this process read them: carried out once ready), else
 * `restart`.
 */
export function restartSignalAction(
  state: State,
  signal: NodeJS.Signals,
  terminalHungUp: () => boolean,
): 'hang-up' | 'defer' | 'restart' {
  if (signal === 'SIGHUP' && terminalHungUp()) return 'hang-up';
  return isStarting(state) ? 'defer' : 'restart';
}

/**
 * The table's event for a shutdown: a lame duck first when one is set, unless it is a
 * platform's default and the shutdown came from code, not a signal.
 */
export function shutdownEvent(
  lameDuck: { ms: number; signalsOnly?: boolean },
  signal: NodeJS.Signals | undefined,
): 'lame-duck' | 'shutdown' {
  if (lameDuck.signalsOnly && signal === undefined) return 'shutdown';
  return lameDuck.ms > 0 ? 'lame-duck' : 'shutdown';
}

/**
 * A shutdown (from code, the supervisor, or a signal) after the table answered `outcome`:
 * - `start`: the table moved on (a first shutdown, or one during a handover's drain);
 * - `join`: join the drain under way (a shutdown from code while stopping or stopped);
 * - `same-stop`: join it too: the process group's copy of the supervisor's stop (the first stop
 *   signal, within the window after its message);
 * - `end-lame-duck`: a second stop signal during a lame duck: drain now;
 * - `exit-now`: a second stop signal while draining: exit at once without finishing the drain.
 */
export function stopAction(
  outcome: Outcome,
  stop: { signal: boolean; firstSignal: boolean; msSinceSupervisorStop: number | undefined },
  inLameDuck = false,
): 'start' | 'join' | 'same-stop' | 'end-lame-duck' | 'exit-now' {
  if (outcome.type === 'move') return 'start';
  if (outcome.type !== 'force' || !stop.signal) return 'join';
  const sameStop =
    stop.firstSignal &&
    stop.msSinceSupervisorStop !== undefined &&
    stop.msSinceSupervisorStop < GROUP_SIGNAL_WINDOW_MS;
  if (sameStop) return 'same-stop';
  return inLameDuck ? 'end-lame-duck' : 'exit-now';
}

/**
 * What a generation remembers of its stops, for stopAction(): when the supervisor's stop
 * message came (unless a stop signal came first: then a signal after it is a second one), and
 * whether a stop signal came yet. Also the restart signal that came before ready().
 */
export class SignalMemory {
  private deferred: NodeJS.Signals | undefined;
  private supervisorStoppedAt: number | undefined;
  private signalReceived = false;

  supervisorStopped(now = performance.now()): void {
    if (!this.signalReceived) this.supervisorStoppedAt = now;
  }

  /** Records this stop and says how it relates to the earlier ones. */
  record(
    signal: NodeJS.Signals | undefined,
    now = performance.now(),
  ): { signal: boolean; firstSignal: boolean; msSinceSupervisorStop: number | undefined } {
    const firstSignal = signal !== undefined && !this.signalReceived;
    if (signal) this.signalReceived = true;
    const since =
      this.supervisorStoppedAt === undefined ? undefined : now - this.supervisorStoppedAt;
    return { signal: signal !== undefined, firstSignal, msSinceSupervisorStop: since };
  }

  /** The group's copy has been counted: a further signal is a second one. */
  joined(): void {
    this.supervisorStoppedAt = undefined;
  }

  defer(signal: NodeJS.Signals): void {
    this.deferred = signal;
  }

  /** The restart signal deferred until ready(), once. */
  takeDeferred(): NodeJS.Signals | undefined {
    const signal = this.deferred;
    this.deferred = undefined;
    return signal;
  }
}
