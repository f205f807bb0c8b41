import type { GracefulRestartError } from '../errors.js';
import type { DrainProgress } from '../handover/messages.js';
import type { RestartResult } from '../handover/outcome.js';
import type { LameDuckSetting } from '../lame-duck-setting.js';
import type { Logger } from '../logger.js';
import type { LameDuckEnd } from './lame-duck.js';

/** What a generation says as it moves: one method per line, the wording kept in one place. */
export class GenerationLog {
  constructor(readonly logger: Logger) {}

  ready(link: { supervised: boolean } | undefined): void {
    const from = link?.supervised
      ? `, supervised by pid ${process.ppid}`
      : link
        ? ', took over from the previous generation'
        : '';
    this.logger.info(`ready (pid ${process.pid}${from})`, { event: 'ready', pid: process.pid });
  }

  restartRequested(signal: NodeJS.Signals): void {
    this.logger.info(`${signal}: restart requested`);
  }

  restartIgnored(signal: NodeJS.Signals, error: GracefulRestartError): void {
    this.logger.warn(`${signal} ignored: ${error.message}`);
  }

  restartDeferred(signal: NodeJS.Signals): void {
    this.logger.info(`${signal} during startup: restarting once ready`);
  }

  restarted({ oldPid, newPid, durationMs }: RestartResult, probation: boolean): void {
    this.logger.info(
      `restart: pid ${newPid} is ready after ${durationMs} ms; draining pid ${process.pid}` +
        (probation ? ' (it holds its sockets through the probation, to roll back)' : ''),
      { event: 'restart', oldPid, newPid, durationMs },
    );
  }

  restartFailed(error: GracefulRestartError, by: 'restart' | 'the supervisor'): void {
    this.logger.error(
      by === 'restart'
        ? `restart failed: ${error.message}`
        : `the supervisor's restart failed, still serving: ${error.message}`,
      { event: 'restart-failed', code: error.code, pid: process.pid },
    );
  }

  rolledBack(error: GracefulRestartError, { oldPid, newPid }: RestartResult): void {
    this.logger.error(`rollback: ${error.message}`, {
      event: 'rollback',
      code: error.code,
      oldPid,
      newPid,
    });
  }

  supervisorGone(): void {
    this.logger.error('the supervisor is gone; shutting down');
  }

  hungUp(): void {
    this.logger.info('SIGHUP: the terminal hung up; shutting down');
  }

  /** A first shutdown: at the keyboard, how to skip the wait. */
  shuttingDown(
    signal: NodeJS.Signals | undefined,
    how: { atKeyboard: boolean; supervised: boolean; deadlineMs: number },
  ): void {
    if (signal === 'SIGINT' && how.atKeyboard && !how.supervised) {
      this.logger.info(
        `SIGINT: shutting down, waiting up to ${how.deadlineMs} ms for requests in flight; press Ctrl-C again to exit now`,
      );
    } else if (signal) this.logger.info(`${signal}: shutting down`);
  }

  draining({ connections, requestsInFlight, deadline }: DrainProgress): void {
    const left = Math.max(0, Date.parse(deadline) - Date.now());
    this.logger.info(
      `draining: ${connections} connection(s) left, ${requestsInFlight} request(s) in flight; the deadline cuts them in ${left} ms`,
      { event: 'draining', pid: process.pid, connections, requestsInFlight, deadline },
    );
  }

  crashed(error: unknown, plan: { action: string; why?: string }): void {
    const code = (error as { code?: unknown } | null)?.code;
    const message = error instanceof Error ? error.message : String(error);
    const next =
      plan.action === 'hand-over'
        ? 'handing the listeners to a fresh generation; answering what is in flight, then exiting 1'
        : `no handover, ${plan.why}; ${plan.action === 'exit-now' ? 'exiting 1 now' : 'answering what is in flight, then exiting 1'}`;
    this.logger.error(`crash: ${message}: ${next}`, {
      event: 'crash',
      pid: process.pid,
      code: typeof code === 'string' ? code : undefined,
      handover: plan.action === 'hand-over',
    });
  }

  crashHandedOver({ oldPid, newPid, durationMs }: RestartResult): void {
    this.logger.info(`crash handover: pid ${newPid} serves after ${durationMs} ms`, {
      event: 'crash-handover',
      oldPid,
      newPid,
      durationMs,
    });
  }

  crashHandoverFailed(error: Error): void {
    this.logger.error(`crash handover failed: ${error.message}`, {
      event: 'crash-handover-failed',
      pid: process.pid,
    });
  }

  lameDuck({ ms, why }: LameDuckSetting): void {
    this.logger.info(
      `lame duck: serving on for up to ${ms} ms, readiness 503 and every response Connection: close, until the load balancer has moved off (${why}); a second signal drains now`,
      { event: 'lame-duck', pid: process.pid, lameDuckMs: ms },
    );
  }

  lameDuckOver(endedBy: LameDuckEnd, durationMs: number): void {
    const why = {
      time: 'its time is up',
      balancer: 'the load balancer has moved off',
      signal: 'a second signal',
    }[endedBy];
    this.logger.info(`lame duck over after ${durationMs} ms (${why}); draining`, {
      event: 'lame-duck-over',
      pid: process.pid,
      durationMs,
      endedBy,
    });
  }

  lameDuckSkipped(signal: NodeJS.Signals | undefined): void {
    this.logger.info(`${signal} again: ending the lame duck, draining now`);
  }

  sameStop(signal: NodeJS.Signals | undefined): void {
    this.logger.info(`${signal} from the process group joins the supervisor's stop`);
  }

  exitingNow(signal: NodeJS.Signals): void {
    this.logger.error(`${signal} again: exiting now without finishing the drain`);
  }
}
