// The public surface of @graceful-restart/core, pinned by test/architecture.test.ts. Internals (the
// state tables, the manifest codec, the connection tracker) stay unexported.

export {
  createMiddlewareKit,
  importPeer,
  type MiddlewareKit,
  type MiddlewareOptions,
  type ServeHelper,
} from './adapter.js';
export { TOKEN_ENV } from './admin/access.js';
export { type AdminRequest, fromNode } from './admin/request.js';
export {
  type AdminOptions,
  type AdminResponse,
  AdminRoute,
  createAdminRoute,
} from './admin/route.js';
export { CWD_ENV, currentCommand, type SuccessorCommand } from './command.js';
export { DEFAULTS } from './defaults.js';
export type { OpaqueConnectionKind, ServerProtocol } from './drain/options.js';
// Errors.
export {
  type ErrorCode,
  ErrorCodes,
  GracefulRestartError,
  type GracefulRestartErrorDetails,
  isGracefulRestartError,
} from './errors.js';
// A generation: listen, ready, restart, drain, shut down.
export { ExitCodes } from './generation/drain-and-exit.js';
export { createGraceful, Graceful, type GracefulEvents } from './generation/graceful.js';
export type { State } from './generation/state.js';
export type { DrainProgress, DrainReport } from './handover/messages.js';
export type { RestartOutcome, RestartResult, WireError } from './handover/outcome.js';
export { type HealthAnswer, healthAnswer, type ReadinessStatus } from './health.js';
export { LAME_DUCK_ENV } from './lame-duck-setting.js';
export type { LogFields, Logger } from './logger.js';
export { type DrainSettings, type GracefulOptions, PROBATION_ENV } from './options.js';
// Building an adapter or a plain server on core.
export {
  type AddressesListenerSpec,
  hostAddresses,
  type ListenTarget,
  listenOnAddresses,
  type ServeOptions,
  type ServeTarget,
  serve,
} from './serve.js';
export type { SignalOptions } from './signals.js';
export type { ListenerInfo } from './sockets/acquire.js';
export type {
  ListenerOrigin,
  ListenerSpec,
  TcpListenerSpec,
  UnixListenerSpec,
} from './sockets/spec.js';
export { sendControl } from './supervisor/control.js';
export { defaultControlPath } from './supervisor/control-path.js';
export type {
  ControlCommand,
  ControlReply,
  SupervisorStatus,
} from './supervisor/control-protocol.js';
export type { SupervisorState, WorkerRole } from './supervisor/state.js';
// The stable-PID supervisor (`graceful-restart run`) and its control socket.
export {
  Supervisor,
  SupervisorExitCodes,
  type SupervisorOptions,
} from './supervisor/supervisor.js';
export { WARM_UP_HEADER } from './warm-up.js';
export { WARM_UP_ENV, type WarmUpOptions } from './warm-up-setting.js';
