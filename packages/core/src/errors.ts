/**
 * Every error this library throws or rejects with is a GracefulRestartError with a stable `code`.
 * Match on `code`, never on the message: messages name the problem and the fix and may improve.
 */

export const ErrorCodes = {
  /** An option has a wrong type or value. */
  INVALID_OPTION: 'ERR_GRACEFUL_INVALID_OPTION',
  /** A listener spec is malformed (no port or path, bad host, bad mode). */
  INVALID_LISTENER: 'ERR_GRACEFUL_INVALID_LISTENER',
  /** Two listeners were declared with the same name. */
  DUPLICATE_LISTENER: 'ERR_GRACEFUL_DUPLICATE_LISTENER',
  /** The handover manifest from the previous generation cannot be parsed. */
  MANIFEST_INVALID: 'ERR_GRACEFUL_MANIFEST_INVALID',
  /** An inherited fd is not open. */
  FD_CLOSED: 'ERR_GRACEFUL_FD_CLOSED',
  /** An inherited fd is open but is not a socket. */
  FD_NOT_SOCKET: 'ERR_GRACEFUL_FD_NOT_SOCKET',
  /** An inherited fd is a socket but not a listening one of the declared kind. */
  FD_NOT_LISTENING: 'ERR_GRACEFUL_FD_NOT_LISTENING',
  /** An inherited socket listens on another address than the manifest says. */
  FD_ADDRESS_MISMATCH: 'ERR_GRACEFUL_FD_ADDRESS_MISMATCH',
  /** LISTEN_PID names another process: the activated fds are not ours. */
  LISTEN_PID_MISMATCH: 'ERR_GRACEFUL_LISTEN_PID_MISMATCH',
  /** LISTEN_FDS / LISTEN_FDNAMES are malformed. */
  SOCKET_ACTIVATION_INVALID: 'ERR_GRACEFUL_SOCKET_ACTIVATION_INVALID',
  /** Socket-activated fds and declared listeners cannot be matched by name. */
  SOCKET_ACTIVATION_UNMATCHED: 'ERR_GRACEFUL_SOCKET_ACTIVATION_UNMATCHED',
  /** A Unix socket path is held by a live server. */
  UNIX_PATH_IN_USE: 'ERR_GRACEFUL_UNIX_PATH_IN_USE',
  /** A Unix socket path exists and is not a socket. */
  UNIX_PATH_NOT_SOCKET: 'ERR_GRACEFUL_UNIX_PATH_NOT_SOCKET',
  /** Binding a fresh listener failed (EADDRINUSE, EACCES, ...). */
  BIND_FAILED: 'ERR_GRACEFUL_BIND_FAILED',
  /** A server passed in is already listening or of an unsupported kind. */
  SERVER_UNSUPPORTED: 'ERR_GRACEFUL_SERVER_UNSUPPORTED',
  /** This Node.js lacks an API the library needs (the supervisor's socket factory). */
  NODE_UNSUPPORTED: 'ERR_GRACEFUL_NODE_UNSUPPORTED',
  /** An optional peer dependency an option needs is not installed. */
  PEER_DEPENDENCY_MISSING: 'ERR_GRACEFUL_PEER_DEPENDENCY_MISSING',
  /** The supervisor has nothing to hold: no `--listen` and no socket-activated fd. */
  NO_LISTENERS: 'ERR_GRACEFUL_NO_LISTENERS',
  /** The control socket received a command it does not know. */
  UNKNOWN_COMMAND: 'ERR_GRACEFUL_UNKNOWN_COMMAND',
  /** Something failed that the library did not foresee: a bug to report, with the message. */
  INTERNAL: 'ERR_GRACEFUL_INTERNAL',
  /**
   * A second Graceful in one process: one process is one generation, and two instances would
   * both start a successor at a restart. Listen on every server through one instance.
   */
  DUPLICATE_INSTANCE: 'ERR_GRACEFUL_DUPLICATE_INSTANCE',
  /** This platform cannot hand a listening socket to a child process (Windows). */
  PLATFORM_UNSUPPORTED: 'ERR_GRACEFUL_PLATFORM_UNSUPPORTED',
  /** The requested move is not allowed in the current state (e.g. a restart during a restart). */
  INVALID_STATE: 'ERR_GRACEFUL_INVALID_STATE',
  /**
   * A direct-mode restart here would end the service: this process is PID 1 of its namespace,
   * or a package manager's script runs it. Run it under `graceful-restart run` instead.
   */
  DIRECT_RESTART_UNSAFE: 'ERR_GRACEFUL_DIRECT_RESTART_UNSAFE',
  /** The successor could not be spawned. */
  SPAWN_FAILED: 'ERR_GRACEFUL_SPAWN_FAILED',
  /** The successor exited before it said ready. */
  CHILD_EXITED: 'ERR_GRACEFUL_CHILD_EXITED',
  /** The successor did not say ready within readyTimeoutMs. */
  READY_TIMEOUT: 'ERR_GRACEFUL_READY_TIMEOUT',
  /** The next generation died on probation, after it was ready: the previous one serves again. */
  ROLLED_BACK: 'ERR_GRACEFUL_ROLLED_BACK',
  /** The restart was cancelled by a shutdown. */
  RESTART_ABORTED: 'ERR_GRACEFUL_RESTART_ABORTED',
  /** A signal that cannot be caught (SIGKILL, SIGSTOP) or is unknown was configured. */
  INVALID_SIGNAL: 'ERR_GRACEFUL_INVALID_SIGNAL',
  /** Writing the PID file failed. */
  PID_FILE_FAILED: 'ERR_GRACEFUL_PID_FILE_FAILED',
  /** A supervised worker declared a listener the supervisor does not hold. */
  LISTENER_NOT_SUPERVISED: 'ERR_GRACEFUL_LISTENER_NOT_SUPERVISED',
  /** No supervisor answers on the control socket (`graceful-restart reload | status | stop`). */
  SUPERVISOR_UNREACHABLE: 'ERR_GRACEFUL_SUPERVISOR_UNREACHABLE',
  /**
   * The control socket, or the private directory it is kept in, belongs to another user: it may
   * be someone's attempt to intercept the commands. Nothing is sent or bound there.
   */
  CONTROL_SOCKET_UNSAFE: 'ERR_GRACEFUL_CONTROL_SOCKET_UNSAFE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface GracefulRestartErrorDetails {
  /** The listener the error is about, when there is one. */
  listener?: string;
  /** The fd the error is about, when there is one. */
  fd?: number;
  /** Underlying error. */
  cause?: unknown;
  /** Exit code of a successor that exited early. */
  exitCode?: number | null;
  /** Signal that ended a successor. */
  signal?: NodeJS.Signals | null;
}

export class GracefulRestartError extends Error {
  override readonly name = 'GracefulRestartError';
  readonly code: ErrorCode;
  readonly listener: string | undefined;
  readonly fd: number | undefined;
  readonly exitCode: number | null | undefined;
  readonly signal: NodeJS.Signals | null | undefined;

  constructor(code: ErrorCode, message: string, details: GracefulRestartErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.listener = details.listener;
    this.fd = details.fd;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
  }
}

export function isGracefulRestartError(
  value: unknown,
  code?: ErrorCode,
): value is GracefulRestartError {
  return (
    value instanceof Error &&
    value.name === 'GracefulRestartError' &&
    typeof (value as GracefulRestartError).code === 'string' &&
    (code === undefined || (value as GracefulRestartError).code === code)
  );
}

/** `error` as a typed error: itself when it is one, else wrapped as INTERNAL with what failed. */
export function toGracefulError(error: unknown, what: string): GracefulRestartError {
  if (isGracefulRestartError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new GracefulRestartError(ErrorCodes.INTERNAL, `${what}: ${message}`, { cause: error });
}
