import { LineChannel } from './channel.js';
import {
  currentCommand,
  describeCommand,
  nextDirectory,
  type SuccessorCommand,
} from '../command.js';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import {
  type Handover,
  type PredecessorLink,
  type Successor,
  startSuccessor,
  type Verdict,
} from './spawn.js';
import type { Logger } from '../logger.js';
import type { RestartHazard } from '../parent.js';
import type { HandedOverListener, SupervisorMessage, WorkerMessage } from './protocol.js';

/** How a generation brings up the next one: chosen once, when the generation is created. */
export interface RestartStrategy {
  /** True when the stable-PID supervisor starts the next worker. */
  readonly supervised: boolean;
  /**
   * Resolves once the next generation serves; rejects with a typed error (and the next
   * generation stopped) when it fails. `startedAt` is when the restart began.
   */
  next(signal: AbortSignal, startedAt: number): Promise<Handover>;
}

/** Direct mode: spawn this process's command again with the listening fds. */
export class SpawnNextGeneration implements RestartStrategy {
  readonly supervised = false;

  constructor(
    private readonly options: {
      command: SuccessorCommand | (() => SuccessorCommand) | undefined;
      cwd: string | undefined;
      env: Record<string, string | undefined>;
      readyTimeoutMs: number;
      probationMs: number;
      listeners: () => { listener: HandedOverListener; fd: number }[];
      log: Logger;
    },
  ) {}

  async next(signal: AbortSignal, startedAt: number): Promise<Handover> {
    const { command: option, cwd: cwdOption, probationMs } = this.options;
    // Resolved at every restart: a swapped release symlink is followed.
    const dir = nextDirectory(cwdOption);
    const given = typeof option === 'function' ? option() : option;
    const command = {
      ...(given ?? currentCommand(dir, this.options.env)),
      cwd: given?.cwd ?? dir,
    };
    const line = describeCommand(command.execPath, command.args);
    this.options.log.info(`restart: starting the next generation in ${command.cwd}: ${line}`);
    const successor = await startSuccessor({
      command,
      listeners: this.options.listeners(),
      readyTimeoutMs: this.options.readyTimeoutMs,
      signal,
    });
    const result = {
      oldPid: process.pid,
      newPid: successor.pid,
      durationMs: Math.round(performance.now() - startedAt),
      cwd: command.cwd,
      command: line,
    };
    const messages = new LineChannel<WorkerMessage, SupervisorMessage>(successor.channel);
    // The next generation reports this restart as its own `lastRestart`.
    messages.send({ type: 'took-over', result });
    return {
      result,
      probation: probationMs > 0 ? watchProbation(successor, messages, probationMs) : undefined,
      successor: {
        handOff: (data) =>
          messages.send({ type: 'handed-off', ...(data === undefined ? {} : { data }) }),
        reportDrained: (report) => messages.send({ type: 'predecessor-drained', report }),
      },
    };
  }
}

/**
 * The new generation's probation, from here: it passes after `probationMs`, or as soon as the
 * new generation says it leaves on purpose (its own handover or shutdown). Dying first, without
 * saying so, is a crash: roll back.
 */
function watchProbation(
  successor: Successor,
  messages: LineChannel<WorkerMessage, SupervisorMessage>,
  probationMs: number,
): Promise<Verdict> {
  const { child, pid } = successor;
  const readyAt = performance.now();
  return new Promise((resolve) => {
    let leaving = false;
    // Ref'd on purpose: this generation lives through the probation even with nothing to do.
    const timer = setTimeout(() => settle({ passed: true }), probationMs);
    const settle = (verdict: Verdict) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve(verdict);
    };
    messages.on('message', (message) => {
      if (message.type !== 'leaving') return;
      leaving = true;
      settle({ passed: true });
    });
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      const after = Math.round(performance.now() - readyAt);
      // 'exit' may be handled before the channel's last lines are read (a busy loop sees both
      // at once): judge once the channel has closed, so a `leaving` sent just before the exit
      // counts. A second at most, should a process the successor started hold the pipe open.
      const channel = successor.channel;
      if (channel.destroyed) judge(code, signal, after);
      else {
        const late = setTimeout(() => judge(code, signal, after), 1000);
        channel.once('close', () => {
          clearTimeout(late);
          judge(code, signal, after);
        });
      }
    };
    const judge = (code: number | null, signal: NodeJS.Signals | null, after: number) => {
      if (leaving) return;
      settle({
        passed: false,
        error: new GracefulRestartError(
          ErrorCodes.ROLLED_BACK,
          `The new generation (pid ${pid}) died ${after} ms after it was ready (${
            signal ? `signal ${signal}` : `exit code ${code}`
          }), within its ${probationMs} ms probation: pid ${process.pid} serves again. Its own output above says why.`,
          { exitCode: code, signal },
        ),
      });
    };
    if (child.exitCode !== null || child.signalCode !== null)
      onExit(child.exitCode, child.signalCode);
    else child.once('exit', onExit);
  });
}

/** What the supervisor may tell a worker without being asked. */
export interface SupervisorHooks {
  /** Its own reload (SIGHUP, `graceful-restart reload`) made a new worker serve: drain. */
  handedOver(handover: Handover): void;
  /** Its own reload failed; this worker keeps serving. */
  restartFailed(error: GracefulRestartError): void;
  /** It is gone (EOF on fd 3): nothing would restart this worker or take its listeners on. */
  gone(): void;
  /** It starts a reload: take what a rollback would need. */
  prepare(): void;
}

/** Supervised mode: the supervisor holds the listeners and starts the next worker with them. */
export class AskSupervisor implements RestartStrategy {
  readonly supervised = true;

  constructor(
    private readonly link: PredecessorLink,
    hooks: SupervisorHooks,
    private readonly log: Logger,
  ) {
    link.onUnrequestedHandover = (handover) => hooks.handedOver(handover);
    link.onRestartFailed = (error) => hooks.restartFailed(error);
    link.onPrepare = () => hooks.prepare();
    link.onClose(() => hooks.gone());
  }

  next(signal: AbortSignal): Promise<Handover> {
    this.log.info('restart: asking the supervisor for the next worker');
    return this.link.requestRestart(signal);
  }
}

/**
 * Direct mode where a restart would end the whole service (PID 1, a package manager's script):
 * every restart is refused with a typed error naming the fix, and this generation serves on.
 */
export class RefuseRestart implements RestartStrategy {
  readonly supervised = false;

  constructor(private readonly hazard: RestartHazard) {}

  async next(): Promise<Handover> {
    throw new GracefulRestartError(
      ErrorCodes.DIRECT_RESTART_UNSAFE,
      `Restart refused: ${this.hazard.reason}. This generation keeps serving. ${this.hazard.fix}`,
    );
  }
}
