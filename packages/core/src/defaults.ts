/** A signal a process can handle: every signal but SIGKILL and SIGSTOP. */
export type CatchableSignal = Exclude<NodeJS.Signals, 'SIGKILL' | 'SIGSTOP'>;

/**
 * Every default of the library, in one table: options are resolved against it once (the
 * generation's in options.ts, the supervisor's in supervisor/options.ts), and the READMEs document it.
 */
export const DEFAULTS = {
  /** How long a new generation (or supervised worker) may take to say ready. */
  readyTimeoutMs: 30_000,
  /** Hard limit of a drain and the shutdown hooks after it: inside docker stop's and Cloud Run's 10 s. */
  deadlineMs: 8_000,
  /** An idle keep-alive socket is closed this long into a drain. */
  idleGraceMs: 1_500,
  /** A drain tells busy keep-alive connections to close one by one over at most this long. */
  paceMs: 1_000,
  /**
   * A drain ends upgraded (WebSocket) and raw connections one by one over at most this long (and
   * half the deadline), so that their clients do not all reconnect in the same moment.
   */
  upgradedPaceMs: 5_000,
  /**
   * Old generations draining at once, at most: a restart beyond it cuts the oldest. Bounds
   * memory under back-to-back restarts while long work drains; above the ten reloads in a row a
   * deploy script may fire, so that those never cut work.
   */
  maxOldGenerations: 16,
  /** Advertise `Keep-Alive: timeout=N` so that clients drop idle sockets before a drain closes them. */
  keepAliveHint: true,
  /**
   * After a handover the previous generation keeps what it needs to serve again this long: if
   * the new one dies meanwhile (a release that crashes on its first requests), it rolls back.
   */
  probationMs: 2_000,
  /** Exit the process once its drain is over. */
  exitProcess: true,
  /** An uncaught exception hands the listeners to a fresh generation (see crash handover). */
  crashHandover: true,
  /** A crashed generation answers what is in flight this long, then exits 1. */
  crashDeadlineMs: 2_000,
  /** Warm-up requests to each path before ready (warmUp.requests). */
  warmUpRequests: 50,
  /** The warm-up holds back ready at most this long; what still runs is cut. */
  warmUpLimitMs: 5_000,
  /** Signals that start a restart, and those that drain and exit (a second one forces). */
  restartSignals: ['SIGHUP', 'SIGUSR2'] as readonly CatchableSignal[],
  shutdownSignals: ['SIGTERM', 'SIGINT'] as readonly CatchableSignal[],
  /** The supervisor also stops on SIGQUIT. */
  supervisorStopSignals: ['SIGTERM', 'SIGINT', 'SIGQUIT'] as readonly CatchableSignal[],
  /** The name a listener gets when none is given; every adapter and the CLI use it too. */
  listenerName: 'web',
  /** A TCP listener's host when none is given. */
  host: '127.0.0.1',
  /**
   * listen(2) backlog floor when a listener gives none: the default is net.core.somaxconn (as Go
   * uses), at least this; the kernel caps every backlog at somaxconn. node's own 511 overflows
   * when thousands of keep-alive clients reconnect after a handover.
   */
  minBacklog: 1024,
  /** The default backlog where /proc/sys/net/core/somaxconn cannot be read (Linux's default). */
  fallbackBacklog: 4096,
  /** A successor that does not exit within this after SIGTERM is killed. */
  killGraceMs: 2_000,
  /** Consecutive failed worker starts before the supervisor gives up. */
  maxRestarts: 10,
  /** Backoff before the n-th consecutive worker restart: base * 2^n, capped. */
  backoffBaseMs: 100,
  backoffMaxMs: 10_000,
  /** A worker that served this long before it died starts the failure count afresh. */
  stableAfterMs: 10_000,
  /** A supervised worker reports its connections and requests this often, when they changed. */
  loadReportMs: 1_000,
  /** The admin route's path, callers and failure limit. */
  adminPath: '/graceful',
  adminAllow: ['127.0.0.0/8', '::1/128'] as readonly string[],
  adminRateLimit: { max: 10, windowMs: 60_000 } as const,
} as const;
