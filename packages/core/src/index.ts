export {
  createMiddlewareKit,
  type MiddlewareKit,
  type MiddlewareOptions,
} from './adapter.js';
export {
  type AdminOptions,
  type AdminRequest,
  type AdminResponse,
  AdminRoute,
  createAdminRoute,
  fromNode,
  TOKEN_ENV,
} from './admin.js';
export {
  CONTROL_ENV,
  type ControlCommand,
  type ControlReply,
  defaultControlPath,
  type SupervisorStatus,
  sendControl,
} from './control.js';
export {
  ConnectionTracker,
  type DrainOptions,
  type DrainReport,
  detectProtocol,
  keepAliveHintFor,
  mergeDrainReports,
  type OpaqueConnectionKind,
  type ServerProtocol,
  type TrackerOptions,
} from './drain.js';
export {
  type ErrorCode,
  ErrorCodes,
  GracefulRestartError,
  type GracefulRestartErrorDetails,
  isGracefulRestartError,
} from './errors.js';
export {
  createGraceful,
  DEFAULTS,
  type DrainSettings,
  ExitCodes,
  Graceful,
  type GracefulEvents,
  type GracefulOptions,
  type ListenerInfo,
  type RestartResult,
} from './graceful.js';
export { currentCommand, type SuccessorCommand } from './handover.js';
export { type HealthAnswer, healthAnswer } from './health.js';
export {
  DEFAULT_LISTENER_NAME,
  decodeManifest,
  encodeManifest,
  type ListenerOrigin,
  type ListenerSpec,
  MANIFEST_ENV,
  type Manifest,
  type ManifestListener,
  type TcpListenerSpec,
  type UnixListenerSpec,
} from './listeners.js';
export type { Logger } from './logger.js';
export { type ListenTarget, type ServeOptions, serve } from './serve.js';
export { DEFAULT_SIGNALS, type SignalOptions } from './signals.js';
export {
  type Events as StateEvents,
  isShuttingDown,
  type State,
  States,
  transition,
} from './state.js';
export {
  backoffMs,
  Supervisor,
  SupervisorExitCodes,
  type SupervisorOptions,
} from './supervisor.js';
