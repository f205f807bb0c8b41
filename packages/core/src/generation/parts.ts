import type { EventEmitter } from 'node:events';
import type { RestartResult } from '../handover/outcome.js';
import type { StarterLink } from '../handover/starter-link.js';
import type { RestartStrategy } from '../handover/strategies.js';
import type { Verdict } from '../handover/types.js';
import type { Health } from '../health.js';
import type { ResolvedOptions } from '../options.js';
import type { SignalHandlers } from '../signals.js';
import type { HeldHandle } from '../sockets/duplicate.js';
import type { SystemdNotifier } from '../systemd.js';
import type { CrashResponse } from './crash.js';
import type { GracefulEvents } from './events.js';
import type { GenerationLog } from './log-lines.js';
import type { GenerationServers } from './servers.js';

/** What a generation is made of: assembled once by Graceful. */
export interface GenerationParts {
  options: ResolvedOptions;
  servers: GenerationServers;
  predecessor: StarterLink | undefined;
  strategy: RestartStrategy;
  signals: SignalHandlers | undefined;
  notifier: SystemdNotifier | undefined;
  log: GenerationLog;
  health: Health;
  appHooks: AppHooks;
  crash: CrashResponse;
  emit: EventEmitter<GracefulEvents>['emit'];
}

/** What the app gave: hooks run after the drain, and the value handed to the next generation. */
export interface AppHooks {
  shutdown: Array<() => unknown>;
  handOff: (() => unknown) | undefined;
}

/** A handover on probation: the verdict to wait for, the sockets' duplicates, the restart. */
export interface Probation {
  verdict: Promise<Verdict>;
  held: HeldHandle[];
  result: RestartResult;
}
