import type { GracefulRestartError } from '../errors.js';
import type { DrainReport } from '../handover/messages.js';
import type { RestartResult } from '../handover/outcome.js';
import type { State } from './state.js';

/** What a generation tells its listeners (`graceful.on(...)`). */
export interface GracefulEvents {
  state: [state: State, previous: State];
  restart: [result: RestartResult];
  'restart-failed': [error: GracefulRestartError];
  /** The next generation died on probation: this one serves again (code ROLLED_BACK). */
  rollback: [error: GracefulRestartError, result: RestartResult];
  drained: [report: DrainReport];
  /**
   * In the new generation: the restart that made it serve, as the previous generation measured
   * it (also its `lastRestart`). Not emitted for a first generation.
   */
  'took-over': [result: RestartResult];
  /** In the new generation: the one it replaced has drained (its drain report). */
  'predecessor-drained': [report: DrainReport];
}
