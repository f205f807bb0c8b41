import { constants } from 'node:os';
import { type CatchableSignal, DEFAULTS } from './defaults.js';
import { ErrorCodes, GracefulRestartError } from './errors.js';
import type { Logger } from './logger.js';
import { checkOptionNames, describeValue } from './option-names.js';

export type { CatchableSignal } from './defaults.js';

export interface SignalOptions {
  /** Signals that start a restart. Default `['SIGHUP', 'SIGUSR2']`; `[]` for none. */
  restart?: CatchableSignal[];
  /** Signals that drain and exit; a second one exits at once. Default `['SIGTERM', 'SIGINT']`. */
  shutdown?: CatchableSignal[];
}

const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP']);

/** The roles of `signals`, each a list of names: anything else is refused, not ignored. */
function signalList(value: unknown, role: 'restart' | 'shutdown'): NodeJS.Signals[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_SIGNAL,
      `signals.${role} must be an array of signal names, e.g. ['SIGHUP'] (got ${describeValue(value)}).`,
    );
  }
  for (const signal of value) checkSignal(signal, role);
  return value as NodeJS.Signals[];
}

function checkSignal(signal: unknown, role: string): asserts signal is NodeJS.Signals {
  if (typeof signal !== 'string' || !(signal in constants.signals)) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_SIGNAL,
      `signals.${role}: ${JSON.stringify(signal)} is not a signal name. Use names like "SIGHUP".`,
    );
  }
  if (UNCATCHABLE.has(signal)) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_SIGNAL,
      `signals.${role}: ${signal} cannot be caught by any process. Choose another signal, e.g. SIGHUP or SIGTERM.`,
    );
  }
}

/**
 * Handlers for a set of restart and shutdown signals, for a generation and for the supervisor:
 * checked at construction, installed from the start, removable.
 */
export class SignalHandlers {
  private readonly installed: Array<[NodeJS.Signals, () => void]> = [];
  /** Per signal, how many other listeners the last warning counted: warn once per change. */
  private readonly warned = new Map<NodeJS.Signals, number>();
  private readonly restart: NodeJS.Signals[];
  private readonly shutdown: NodeJS.Signals[];

  constructor(
    options: SignalOptions,
    private readonly actions: {
      restart: (signal: NodeJS.Signals) => void;
      shutdown: (signal: NodeJS.Signals) => void;
    },
    private readonly log: Logger,
  ) {
    if (Array.isArray(options) || typeof options !== 'object' || options === null) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_SIGNAL,
        `signals must be { restart?: [...], shutdown?: [...] } or false (got ${describeValue(options)}), ` +
          "e.g. signals: { restart: ['SIGHUP'] }.",
      );
    }
    checkOptionNames(options, ['restart', 'shutdown'], 'signals.');
    this.restart = signalList(options.restart, 'restart') ?? [...DEFAULTS.restartSignals];
    this.shutdown = signalList(options.shutdown, 'shutdown') ?? [...DEFAULTS.shutdownSignals];
    const both = this.restart.filter((signal) => this.shutdown.includes(signal));
    if (both.length > 0) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_SIGNAL,
        `signals: ${both.join(', ')} is configured both to restart and to shut down. Give it one role.`,
      );
    }
  }

  install(): void {
    if (this.installed.length > 0) return;
    const add = (signal: NodeJS.Signals, action: (signal: NodeJS.Signals) => void) => {
      const handler = () => action(signal);
      process.on(signal, handler);
      this.installed.push([signal, handler]);
    };
    for (const signal of this.restart) add(signal, this.actions.restart);
    for (const signal of this.shutdown) add(signal, this.actions.shutdown);
    this.warnAboutOtherListeners();
  }

  /**
   * Other code handling our signals (NestJS's enableShutdownHooks(), a hand-written
   * process.on('SIGTERM')) runs beside the drain: it may close resources, or exit, while
   * requests are in flight. Checked at install and again at ready(), when apps have set theirs up.
   */
  warnAboutOtherListeners(): void {
    for (const [signal, ours] of this.installed) {
      const others = process.listeners(signal).filter((listener) => listener !== ours).length;
      if (others === 0 || this.warned.get(signal) === others) continue;
      this.warned.set(signal, others);
      this.log.warn(
        `${others} other listener(s) for ${signal} (e.g. NestJS's app.enableShutdownHooks() or a process.on('${signal}')) run beside graceful-restart's, ` +
          'and may close resources or exit while requests are in flight: remove them and move their work to onShutdown()',
        { event: 'signal-listeners', signal, listeners: others },
      );
    }
  }

  uninstall(): void {
    for (const [signal, handler] of this.installed) process.off(signal, handler);
    this.installed.length = 0;
  }
}
