import { DEFAULTS } from '../defaults.js';
import { ErrorCodes, type GracefulRestartError } from '../errors.js';
import type { RestartResult } from '../handover/outcome.js';
import { SignalHandlers } from '../signals.js';
import { terminalHungUp } from '../terminal.js';
import type { SupervisorLog } from './log-lines.js';

/**
 * The supervisor's signals: SIGHUP reloads, unless it is the terminal's hangup (a closed
 * terminal is no deploy: stop, as workers on their own do); the stop signals stop.
 */
export function supervisorSignals(
  log: SupervisorLog,
  act: {
    reload(): Promise<RestartResult>;
    stop(reason: string, how?: { signal?: NodeJS.Signals }): Promise<number>;
  },
): SignalHandlers {
  const reload = (signal: NodeJS.Signals) => {
    if (signal === 'SIGHUP' && terminalHungUp()) {
      void act.stop('the terminal hung up');
      return;
    }
    log.reloadSignal(signal);
    act.reload().catch((error: GracefulRestartError) => {
      if (error.code === ErrorCodes.INVALID_STATE) log.signalIgnored(signal, error);
    });
  };
  const { restartSignals, supervisorStopSignals } = DEFAULTS;
  return new SignalHandlers(
    { restart: [...restartSignals], shutdown: [...supervisorStopSignals] },
    { restart: reload, shutdown: (signal) => void act.stop(signal, { signal }) },
    log.logger,
  );
}
