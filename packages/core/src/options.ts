import type { SuccessorCommand } from './command.js';
import { DEFAULTS } from './defaults.js';
import type { DrainOptions } from './drain/options.js';
import { ErrorCodes, GracefulRestartError } from './errors.js';
import { type LameDuckSetting, resolveLameDuck } from './lame-duck-setting.js';
import { type Logger, resolveLogger } from './logger.js';
import { checkOptionNames, describeValue } from './option-names.js';
import type { SignalOptions } from './signals.js';
import { resolveWarmUp, type WarmUpOptions, type WarmUpSetting } from './warm-up-setting.js';

/** Every key optional, and undefined taken as not given (for exactOptionalPropertyTypes). */
type Optional<T> = { [K in keyof T]?: T[K] | undefined };

/**
 * Drain options with defaults: `deadlineMs` 8000 (it also bounds the shutdown hooks),
 * `idleGraceMs` 1500, `paceMs` 1000.
 */
export interface DrainSettings extends Optional<DrainOptions> {
  /**
   * Advertise `Keep-Alive: timeout=N` on HTTP/1.1 responses, with N chosen so that clients
   * honouring it (node's http, undici/fetch) stop reusing an idle socket before a drain would
   * close it: no request ever races an idle close. Costs those clients a new connection after
   * about a second of idleness. Default true; it applies only when the idle grace is at least
   * 1500 ms and shorter than the server's own keepAliveTimeout.
   */
  keepAliveHint?: boolean | undefined;
  /**
   * The deadline of a drain after a handover, when the next generation already serves: it may be
   * much longer than `deadlineMs` (which must fit the platform's stop budget), so that long
   * requests, streams and WebSockets finish. A stop signal during it shortens what is left to
   * `deadlineMs`. Default: `deadlineMs`.
   */
  handoverDeadlineMs?: number | undefined;
  /**
   * How many old generations may drain at once, this one's included. A restart that would leave
   * more cuts the oldest at once (logged, its drain report lists what was cut): the operator's
   * deploy goes ahead and memory stays bounded. Default 16.
   */
  maxOldGenerations?: number | undefined;
}

export interface GracefulOptions {
  /** How long the next generation may take to become ready. Default 30000 ms. */
  readyTimeoutMs?: number | undefined;
  /**
   * After a handover, how long this generation keeps what it needs to serve again: if the next
   * generation dies meanwhile without leaving on purpose, this one rolls back and serves. It
   * exits when the probation passes (or later, when its drain ends). 0 turns it off.
   * Default: GRACEFUL_RESTART_PROBATION_MS, else 2000 ms. Under the supervisor its
   * `--probation` applies instead.
   */
  probationMs?: number | undefined;
  drain?: DrainSettings | undefined;
  /**
   * On a final shutdown (SIGTERM, SIGINT, shutdown(); not a restart), serve on for up to this
   * long first, readiness answering 503 and every response `Connection: close`, so that a load
   * balancer moves off before the listener closes; it ends sooner once the balancer visibly has
   * (readiness told 503 twice, then no other request for two check intervals, at least 1 s). A
   * second signal skips it. 0 turns it off. Default: GRACEFUL_RESTART_LAME_DUCK_MS, else 5000 ms
   * under Kubernetes (KUBERNETES_SERVICE_HOST) and Nomad (NOMAD_ALLOC_ID) for their stop signal
   * (not for shutdown() from code: tests in a pod stay fast), else 0.
   */
  lameDuckMs?: number | undefined;
  /**
   * On an uncaught exception or unhandled rejection (the error printed as node prints it): stop
   * accepting at once and hand the listeners to a fresh generation (or, supervised, have the
   * supervisor replace this worker at once), answer what is in flight within `crashDeadlineMs`,
   * exit 1. Off where `exitProcess` is false. Default true; `false` keeps node's own behaviour.
   */
  crashHandover?: boolean | undefined;
  /** How long a crashed generation answers the requests in flight before it exits. Default 2000 ms. */
  crashDeadlineMs?: number | undefined;
  /** Signals to handle, or `false` for none. Default: SIGHUP and SIGUSR2 restart, SIGTERM and SIGINT shut down. */
  signals?: SignalOptions | false | undefined;
  /** Path of a PID file the serving generation keeps up to date. */
  pidFile?: string | undefined;
  /** The command that starts the next generation. Default: this process's own command line. */
  command?: SuccessorCommand | (() => SuccessorCommand) | undefined;
  /**
   * The directory the next generation starts in, followed anew at every restart (a release
   * directory's `current` symlink). Default: GRACEFUL_RESTART_CWD, else the directory the
   * service was started from as `$PWD` names it, else the physical working directory.
   */
  cwd?: string | undefined;
  /**
   * Variables to set (a string) or remove (`undefined`) in the next generation's environment.
   * It starts from the environment the service was started with, not this process's
   * `process.env`: env files (`node --env-file`, dotenv) are read afresh at every restart, so
   * edited values take effect. Ignored when `command` gives its own `env`.
   */
  env?: Record<string, string | undefined> | undefined;
  /**
   * Before it says ready, send each of these GET paths `requests` times through this
   * generation's own handlers (in memory, no socket; header `x-graceful-warm-up: 1`), so that its
   * first real requests meet warm code. Only paths without side effects. A path that does not
   * answer 2xx/3xx is logged; ready goes on (at most 5 s later). Default: GRACEFUL_RESTART_WARM_UP
   * (paths, comma-separated), else none.
   */
  warmUp?: WarmUpOptions | false | undefined;
  /** Exit the process once a drain is over. Default true. */
  exitProcess?: boolean | undefined;
  /** Where to log. Default: one line per event on stderr. `false` for silence. */
  logger?: Logger | false | undefined;
}

/** The options with every default filled in from DEFAULTS, checked once at construction. */
export interface ResolvedOptions {
  readyTimeoutMs: number;
  probationMs: number;
  drain: DrainOptions & {
    keepAliveHint: boolean;
    handoverDeadlineMs: number;
    maxOldGenerations: number;
  };
  lameDuck: LameDuckSetting;
  crashHandover: boolean;
  crashDeadlineMs: number;
  /** Resolved (defaults, checks) by SignalHandlers. */
  signals: SignalOptions | false;
  pidFile: string | undefined;
  command: SuccessorCommand | (() => SuccessorCommand) | undefined;
  cwd: string | undefined;
  env: Record<string, string | undefined>;
  warmUp: WarmUpSetting;
  exitProcess: boolean;
  logger: Logger;
}

/** Names the default of `probationMs` (and `graceful-restart run --probation`), in milliseconds. */
export const PROBATION_ENV = 'GRACEFUL_RESTART_PROBATION_MS';

/** The probation default: GRACEFUL_RESTART_PROBATION_MS when set, else DEFAULTS.probationMs. */
export function defaultProbationMs(env: NodeJS.ProcessEnv = process.env): number {
  const text = env[PROBATION_ENV];
  if (text === undefined || text === '') return DEFAULTS.probationMs;
  if (!/^\d+$/.test(text)) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `${PROBATION_ENV} must be a whole number of milliseconds, e.g. 2000 (got ${JSON.stringify(text)}).`,
    );
  }
  return Number(text);
}

/** Every option of GracefulOptions: anything else is a typo, refused with the closest name. */
export const GRACEFUL_OPTION_NAMES = [
  'readyTimeoutMs',
  'probationMs',
  'drain',
  'lameDuckMs',
  'crashHandover',
  'crashDeadlineMs',
  'signals',
  'pidFile',
  'command',
  'cwd',
  'env',
  'warmUp',
  'exitProcess',
  'logger',
] as const;
const DRAIN_OPTION_NAMES = [
  'deadlineMs',
  'idleGraceMs',
  'paceMs',
  'upgradedPaceMs',
  'closeConnection',
  'keepAliveHint',
  'handoverDeadlineMs',
  'maxOldGenerations',
];

export function resolveOptions(options: GracefulOptions = {}): ResolvedOptions {
  checkOptionNames(options, GRACEFUL_OPTION_NAMES);
  checkOptionNames(options.drain, DRAIN_OPTION_NAMES, 'drain.');
  const milliseconds = (value: unknown, name: string, fallback: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_OPTION,
        `${name} must be a non-negative number of milliseconds (got ${describeValue(value)}).`,
      );
    }
    return value;
  };
  const drain = options.drain ?? {};
  const readyTimeoutMs = milliseconds(
    options.readyTimeoutMs,
    'readyTimeoutMs',
    DEFAULTS.readyTimeoutMs,
  );
  const probationMs = milliseconds(options.probationMs, 'probationMs', defaultProbationMs());
  const deadlineMs = milliseconds(drain.deadlineMs, 'drain.deadlineMs', DEFAULTS.deadlineMs);
  const idleGraceMs = milliseconds(drain.idleGraceMs, 'drain.idleGraceMs', DEFAULTS.idleGraceMs);
  const paceMs = milliseconds(drain.paceMs, 'drain.paceMs', DEFAULTS.paceMs);
  const upgradedPaceMs = milliseconds(
    drain.upgradedPaceMs,
    'drain.upgradedPaceMs',
    DEFAULTS.upgradedPaceMs,
  );
  const handoverDeadlineMs = milliseconds(
    drain.handoverDeadlineMs,
    'drain.handoverDeadlineMs',
    deadlineMs,
  );
  const maxOldGenerations = drain.maxOldGenerations ?? DEFAULTS.maxOldGenerations;
  if (!Number.isInteger(maxOldGenerations) || maxOldGenerations < 1) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `drain.maxOldGenerations must be a whole number of at least 1, e.g. 16 (got ${describeValue(maxOldGenerations)}).`,
    );
  }
  const hint = drain.keepAliveHint;
  if (hint !== undefined && typeof hint !== 'boolean') {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `drain.keepAliveHint must be true or false (got ${JSON.stringify(hint)}).`,
    );
  }
  if (
    options.pidFile !== undefined &&
    (typeof options.pidFile !== 'string' || options.pidFile === '')
  ) {
    throw new GracefulRestartError(ErrorCodes.INVALID_OPTION, 'pidFile must be a non-empty path.');
  }
  if (options.cwd !== undefined && (typeof options.cwd !== 'string' || options.cwd === '')) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `cwd must be a non-empty directory path, e.g. "/srv/app/current" (got ${JSON.stringify(options.cwd)}).`,
    );
  }
  const env = options.env ?? {};
  checkEnv(env);

  return {
    readyTimeoutMs,
    probationMs,
    drain: {
      deadlineMs,
      idleGraceMs,
      paceMs,
      upgradedPaceMs,
      closeConnection: drain.closeConnection,
      keepAliveHint: hint ?? DEFAULTS.keepAliveHint,
      handoverDeadlineMs,
      maxOldGenerations,
    },
    lameDuck: resolveLameDuck(options.lameDuckMs),
    crashHandover: flag(options.crashHandover, 'crashHandover', DEFAULTS.crashHandover),
    crashDeadlineMs: milliseconds(
      options.crashDeadlineMs,
      'crashDeadlineMs',
      DEFAULTS.crashDeadlineMs,
    ),
    signals: options.signals ?? {},
    pidFile: options.pidFile,
    command: options.command,
    cwd: options.cwd,
    env,
    warmUp: resolveWarmUp(options.warmUp),
    exitProcess: flag(options.exitProcess, 'exitProcess', DEFAULTS.exitProcess),
    logger: resolveLogger(options.logger),
  };
}

function flag(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  throw new GracefulRestartError(
    ErrorCodes.INVALID_OPTION,
    `${name} must be true or false (got ${describeValue(value)}).`,
  );
}

function checkEnv(env: unknown): asserts env is Record<string, string | undefined> {
  if (typeof env !== 'object' || env === null || Array.isArray(env)) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `env must be an object of variable names to strings, e.g. { LOG_LEVEL: 'info' } (got ${describeValue(env)}).`,
    );
  }
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || typeof value === 'string') continue;
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `env.${name} must be a string, or undefined to remove it (got ${describeValue(value)}).`,
    );
  }
}
