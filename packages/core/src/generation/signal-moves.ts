/**
 * A restart signal carried out as restartSignalAction() (signal-policy.ts) decides: a hung-up
 * terminal's SIGHUP stops, one before ready waits for ready, else the generation restarts.
 */
import { ErrorCodes, type GracefulRestartError } from '../errors.js';
import type { DrainReport } from '../handover/messages.js';
import type { RestartResult } from '../handover/outcome.js';
import { terminalHungUp } from '../terminal.js';
import type { GenerationLog } from './log-lines.js';
import { restartSignalAction } from './signal-policy.js';
import { isShuttingDown, type State } from './state.js';

/** What a restart signal moves: the generation's coordinator. */
interface SignalTarget {
  readonly state: State;
  stop(): Promise<DrainReport>;
  restart(): Promise<RestartResult>;
  deferRestart(signal: NodeJS.Signals): void;
}

export function onRestartSignal(
  target: SignalTarget,
  signal: NodeJS.Signals,
  log: GenerationLog,
): void {
  const action = restartSignalAction(target.state, signal, terminalHungUp);
  if (action === 'hang-up') {
    if (!isShuttingDown(target.state)) log.hungUp();
    void target.stop();
  } else if (action === 'defer') {
    target.deferRestart(signal);
    log.restartDeferred(signal);
  } else {
    log.restartRequested(signal);
    target.restart().catch((error: GracefulRestartError) => {
      if (error.code === ErrorCodes.INVALID_STATE) log.restartIgnored(signal, error);
    });
  }
}
