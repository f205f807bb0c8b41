import {
  currentCommand,
  describeCommand,
  nextDirectory,
  type SuccessorCommand,
} from '../command.js';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import type { Logger } from '../logger.js';
import { directRestartHazard, type RestartHazard } from '../parent.js';
import { LineChannel } from './channel.js';
import type { HandedOverListener } from './manifest.js';
import type { SupervisorMessage, WorkerMessage } from './messages.js';
import { startSuccessor } from './spawn.js';
import type { StarterLink } from './starter-link.js';
import type { Handover } from './types.js';
import { probationVerdict, saysLeaving } from './verdict.js';

/** How a generation brings up the next one: chosen once, when the generation is created. */
export interface RestartStrategy {
  /** True when the stable-PID supervisor starts the next worker. */
  readonly supervised: boolean;
  /** True when a restart may roll back, so the generation holds duplicates of its sockets. */
  readonly canRollBack: boolean;
  /** False where every restart is refused (a direct restart would end the service). */
  readonly canRestart: boolean;
  /**
   * Resolves once the next generation serves; rejects with a typed error (and the next
   * generation stopped) when it fails. `startedAt` is when the restart began. `crashes`: a
   * crash handover, and when the crash handovers before it happened (epoch ms, the last one
   * this crash), for the next generation's crash budget.
   */
  next(signal: AbortSignal, startedAt: number, crashes?: number[]): Promise<Handover>;
}

/** Direct mode: spawn this process's command again with the listening fds. */
class SpawnNextGeneration implements RestartStrategy {
  readonly supervised = false;
  readonly canRollBack: boolean;
  readonly canRestart = true;

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
  ) {
    this.canRollBack = options.probationMs > 0;
  }

  async next(signal: AbortSignal, startedAt: number, crashes?: number[]): Promise<Handover> {
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
      ...(crashes ? { crashes } : {}),
    });
    const result = {
      oldPid: process.pid,
      newPid: successor.pid,
      durationMs: Math.round(performance.now() - startedAt),
      cwd: command.cwd,
      command: line,
      ...(crashes ? { cause: 'crash' as const } : {}),
    };
    const messages = new LineChannel<WorkerMessage, SupervisorMessage>(successor.channel);
    // The next generation reports this restart as its own `lastRestart`.
    messages.send({ type: 'took-over', result });
    const leaving = saysLeaving(messages);
    return {
      result,
      probation:
        probationMs > 0
          ? probationVerdict([{ ...successor, leaving }], probationMs, {
              what: 'generation',
              servesAgain: `: pid ${process.pid} serves again`,
            })
          : undefined,
      successor: {
        handOff: (data) =>
          messages.send({ type: 'handed-off', ...(data === undefined ? {} : { data }) }),
        reportDrained: (report) => messages.send({ type: 'predecessor-drained', report }),
        reportDraining: (generations) =>
          messages.send({ type: 'predecessors-draining', generations }),
      },
      onCutRequest: (listener) =>
        messages.on('message', (message) => {
          if (message.type === 'cut-drains') listener(message.pids);
        }),
    };
  }
}

/** Supervised mode: the supervisor holds the listeners and starts the next worker with them. */
class AskSupervisor implements RestartStrategy {
  readonly supervised = true;
  readonly canRollBack = true;
  readonly canRestart = true;

  constructor(
    private readonly link: StarterLink,
    private readonly log: Logger,
  ) {}

  next(signal: AbortSignal): Promise<Handover> {
    this.log.info('restart: asking the supervisor for the next worker');
    return this.link.requestRestart(signal);
  }
}

/**
 * Direct mode where a restart would end the whole service (PID 1, a package manager's script):
 * every restart is refused with a typed error naming the fix, and this generation serves on.
 */
class RefuseRestart implements RestartStrategy {
  readonly supervised = false;
  readonly canRollBack = false;
  readonly canRestart = false;

  constructor(private readonly hazard: RestartHazard) {}

  async next(): Promise<Handover> {
    throw new GracefulRestartError(
      ErrorCodes.DIRECT_RESTART_UNSAFE,
      `Restart refused: ${this.hazard.reason}. This generation keeps serving. ${this.hazard.fix}`,
    );
  }
}

/**
 * The strategy for this generation: the supervisor's when it started this one; else spawning
 * the next generation, unless a restart would end the whole service here (then refused, with a
 * warning now).
 */
export function restartStrategyFor(
  link: StarterLink | undefined,
  direct: ConstructorParameters<typeof SpawnNextGeneration>[0],
): RestartStrategy {
  if (link?.supervised) return new AskSupervisor(link, direct.log);
  const hazard = directRestartHazard();
  if (!hazard) return new SpawnNextGeneration(direct);
  direct.log.warn(`restarts are refused here: ${hazard.reason}. ${hazard.fix}`);
  return new RefuseRestart(hazard);
}
