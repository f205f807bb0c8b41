import { DEFAULTS } from '../defaults.js';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import { type LameDuckSetting, resolveLameDuck } from '../lame-duck-setting.js';
import type { Logger } from '../logger.js';
import { describeValue } from '../option-names.js';
import { defaultProbationMs } from '../options.js';
import { type ListenerSpec, normalizeSpec } from '../sockets/spec.js';

export interface SupervisorOptions {
  /** The worker's command line: `['node', 'app.js', ...]`. */
  command: string[];
  /** Listeners to bind (socket-activated fds are taken as well). */
  listeners: ListenerSpec[];
  /** The control socket `graceful-restart reload | status | stop` talk to. */
  controlPath: string;
  /** The supervisor's own pid, written once. */
  pidFile?: string;
  /** How long a worker may take to say ready. Default 30000 ms. */
  readyTimeoutMs?: number;
  /**
   * After a reload, how long the old worker keeps what it needs to serve again: if the new one
   * dies meanwhile, the old one serves on and the reload fails. 0 turns it off. Default:
   * GRACEFUL_RESTART_PROBATION_MS, else 2000 ms.
   */
  probationMs?: number;
  /**
   * On stop, the workers serve on as lame ducks for up to this long (readiness 503, responses
   * `Connection: close`) before they drain: see GracefulOptions.lameDuckMs. Default:
   * GRACEFUL_RESTART_LAME_DUCK_MS, else 5000 ms under Kubernetes and Nomad, else 0. The workers'
   * environment gets GRACEFUL_RESTART_LAME_DUCK_MS set to it.
   */
  lameDuckMs?: number;
  /** Consecutive failed worker starts before the supervisor gives up. Default 10. */
  maxRestarts?: number;
  /**
   * How many workers serve side by side, all accepting on the same listeners. A reload
   * replaces them all; a crash replaces only the one that died. Default 1.
   */
  workers?: number;
  /**
   * How many workers a reload replaces at a time (`--reload-batch K`): K new ones start beside
   * the N serving, so at most N+K run. Each batch passes its probation before the next starts;
   * a failure stops the reload, the old workers serve on in the slots not yet replaced, and the
   * batches already replaced get their release back. Default: all N at once.
   */
  reloadBatch?: number;
  logger?: Logger | false;
  /**
   * The workers' directory, followed anew at every start (a release directory's `current`).
   * Default: GRACEFUL_RESTART_CWD, else the directory the supervisor was started from as `$PWD`
   * names it, else its physical working directory.
   */
  cwd?: string;
  /** The workers' environment. Default: the one the supervisor was started with. */
  env?: NodeJS.ProcessEnv;
}

/** Exit codes of `graceful-restart run`. */
export const SupervisorExitCodes = {
  /** Stopped, and every worker drained cleanly. */
  CLEAN: 0,
  /** A worker's drain was cut at its deadline, or startup failed (bind, control socket). */
  FAILED: 1,
  /** Bad command line. */
  USAGE: 2,
  /** Workers kept failing: gave up after `maxRestarts` consecutive failed starts. */
  GAVE_UP: 3,
} as const;

/** The options, checked, with their defaults. */
export interface ResolvedSupervisorOptions {
  command: [string, ...string[]];
  listeners: ListenerSpec[];
  controlPath: string;
  pidFile: string | undefined;
  readyTimeoutMs: number;
  probationMs: number;
  lameDuck: LameDuckSetting;
  maxRestarts: number;
  workerCount: number;
  reloadBatch: number;
  cwd: string | undefined;
  env: NodeJS.ProcessEnv | undefined;
}

export function resolveSupervisorOptions(options: SupervisorOptions): ResolvedSupervisorOptions {
  const [execPath, ...args] = options.command;
  if (!execPath) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      'No worker command: give it after "--", e.g. graceful-restart run --listen web=127.0.0.1:3000 -- node app.js',
    );
  }
  return {
    command: [execPath, ...args],
    listeners: options.listeners.map((spec) => normalizeSpec(spec, 'cli')),
    controlPath: options.controlPath,
    pidFile: options.pidFile,
    readyTimeoutMs: options.readyTimeoutMs ?? DEFAULTS.readyTimeoutMs,
    probationMs: options.probationMs ?? defaultProbationMs(),
    lameDuck: resolveLameDuck(options.lameDuckMs, options.env ?? process.env),
    maxRestarts: options.maxRestarts ?? DEFAULTS.maxRestarts,
    workerCount: checkWorkerCount(options.workers ?? 1),
    reloadBatch: checkReloadBatch(options.reloadBatch, options.workers ?? 1),
    cwd: options.cwd,
    env: options.env,
  };
}

/** The number of workers: a whole number from 1 (`--workers auto` is resolved by the CLI). */
function checkWorkerCount(count: number): number {
  if (!Number.isInteger(count) || count < 1 || count > 1024) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `workers must be a whole number from 1 to 1024 (got ${describeValue(count)}); with the CLI, --workers N or --workers auto (one per available CPU).`,
    );
  }
  return count;
}

/** Workers replaced at a time: a whole number from 1; above N it is N (the whole set). */
function checkReloadBatch(batch: number | undefined, workerCount: number): number {
  if (batch === undefined) return workerCount;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `reloadBatch must be a whole number from 1 (got ${describeValue(batch)}); with the CLI, --reload-batch K replaces K of the --workers at a time.`,
    );
  }
  return Math.min(batch, workerCount);
}
