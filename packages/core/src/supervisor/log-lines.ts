import type { GracefulRestartError } from '../errors.js';
import type { RestartResult } from '../handover/outcome.js';
import type { LameDuckSetting } from '../lame-duck-setting.js';
import type { Logger } from '../logger.js';
import type { LetGoSlot } from './reload-batches.js';
import { pids, type Worker } from './workers.js';

/** `s` when one worker does it: "pid 12 serves", "pids 12, 13 serve". */
const verb = (workers: Worker[], word: string) => `${word}${workers.length === 1 ? 's' : ''}`;

/** What the supervisor says as it moves: one method per line, the wording kept in one place. */
export class SupervisorLog {
  constructor(readonly logger: Logger) {}

  started(controlPath: string, workerCount: number, lameDuck: LameDuckSetting): void {
    const stop =
      lameDuck.ms > 0
        ? `on stop, a lame duck of up to ${lameDuck.ms} ms (${lameDuck.why})`
        : `on stop, no lame duck (${lameDuck.why})`;
    this.logger.info(
      `supervisor pid ${process.pid}: control socket ${controlPath}; starting ${
        workerCount === 1 ? 'the worker' : `${workerCount} workers`
      }; ${stop}`,
    );
  }

  reloadSignal(signal: NodeJS.Signals): void {
    this.logger.info(`${signal}: reload`);
  }

  signalIgnored(signal: NodeJS.Signals, error: GracefulRestartError): void {
    this.logger.warn(`${signal} ignored: ${error.message}`);
  }

  signalPassedOn(signal: NodeJS.Signals): void {
    this.logger.warn(`${signal} again: passing it to the workers`);
  }

  stopping(reason: string, workers: number, ctrlC: boolean, lameDuck: LameDuckSetting): void {
    const hint = ctrlC ? '; press Ctrl-C again to exit now' : '';
    const first =
      lameDuck.ms > 0 ? ` after a lame duck of up to ${lameDuck.ms} ms (${lameDuck.why})` : '';
    this.logger.info(`stopping (${reason}): draining ${workers} worker(s)${first}${hint}`);
  }

  reloadStarts(
    old: Worker[],
    count: number,
    where: string,
    commandLine: string,
    batch?: { index: number; of: number },
  ): void {
    const what = count === 1 ? 'a worker' : `${count} workers`;
    const step = batch ? `batch ${batch.index + 1} of ${batch.of}: ` : '';
    this.logger.info(
      `reload: ${step}starting ${what} to replace ${pids(old)} in ${where}: ${commandLine}`,
    );
  }

  /** Code changed in place: the old code cannot be started again, so the old workers wait. */
  batchHeld(old: Worker[]): void {
    this.logger.warn(
      `reload: ${pids(old)} ${verb(old, 'hold')} on until every batch has passed: the new workers run in the same directory, so the old code could not be started again for a rollback; to run at most N+K workers, deploy into release directories, or turn the rollback off (--probation 0)`,
    );
  }

  restoreStarts(batch: LetGoSlot[]): void {
    const where = [...new Set(batch.map((s) => s.release))].join(', ');
    this.logger.warn(
      `rollback: starting the earlier release in slot(s) ${batch.map((s) => s.slot).join(', ')} (${where})`,
    );
  }

  restoreFailed(batch: LetGoSlot[], error: GracefulRestartError): void {
    this.logger.error(
      `rollback: the earlier release did not start in slot(s) ${batch.map((s) => s.slot).join(', ')}; the new release serves on there: ${error.message}`,
    );
  }

  restored(back: Worker[], replaced: Worker[]): void {
    this.logger.error(
      `rollback: ${pids(back)} ${verb(back, 'serve')} the earlier release again; ${pids(replaced)} ${verb(replaced, 'drain')}`,
      { event: 'rollback', oldPids: back.map((w) => w.pid), newPids: replaced.map((w) => w.pid) },
    );
  }

  /** Every batch passed its probation: the reload is done. */
  batchesDone(result: RestartResult, batches: number): void {
    const pidsLine = (result.newPids ?? [result.newPid]).join(', ');
    this.logger.info(
      `reload: every slot replaced in ${batches} batches after ${result.durationMs} ms; pids ${pidsLine} serve`,
    );
  }

  reloadFailed(old: Worker[], error: GracefulRestartError): void {
    this.logger.error(
      `reload failed, ${pids(old)} ${verb(old, 'keep')} serving: ${error.message}`,
      {
        event: 'reload-failed',
        code: error.code,
        oldPid: old[0]?.pid,
        oldPids: old.map((w) => w.pid),
      },
    );
  }

  reloaded(result: RestartResult, old: Worker[], next: Worker[], probationMs: number): void {
    this.logger.info(
      `reload: ${pids(next)} ${verb(next, 'serve')} after ${result.durationMs} ms; ${pids(old)} ${verb(old, 'drain')}` +
        (probationMs > 0
          ? ` and ${verb(old, 'hold')} on through a ${probationMs} ms probation`
          : ''),
      {
        event: 'reload',
        oldPid: result.oldPid,
        newPid: result.newPid,
        oldPids: old.map((w) => w.pid),
        newPids: next.map((w) => w.pid),
        durationMs: result.durationMs,
      },
    );
  }

  rolledBack(alive: Worker[], error: GracefulRestartError): void {
    this.logger.error(`rollback: ${pids(alive)} ${verb(alive, 'serve')} again. ${error.message}`, {
      event: 'rollback',
      code: error.code,
      oldPid: alive[0]?.pid,
      oldPids: alive.map((w) => w.pid),
    });
  }

  noneToRollBackTo(old: Worker[], error: GracefulRestartError): void {
    const are = old.length === 1 ? 'is' : 'are';
    this.logger.error(`reload failed and ${pids(old)} ${are} gone too: ${error.message}`);
  }

  workerServes(worker: Worker, commandLine: string): void {
    this.logger.info(`worker pid ${worker.pid} serves (in ${worker.cwd}: ${commandLine})`);
  }

  workerStartFailed(error: Error): void {
    this.logger.error(`worker start failed: ${error.message}`);
  }

  workerExited(worker: Worker): void {
    this.logger.info(`worker pid ${worker.pid} exited (${how(worker)})`);
  }

  workerDied(worker: Worker, others: Worker[]): void {
    const { exitCode, signalCode } = worker.child;
    const meanwhile =
      others.length > 0
        ? `${pids(others)} ${verb(others, 'serve')} on`
        : 'connections wait in the listen backlog';
    this.logger.error(
      `worker pid ${worker.pid} died while serving (${how(worker)}); ${meanwhile}`,
      {
        event: 'worker-died',
        pid: worker.pid,
        exitCode,
        signal: signalCode,
      },
    );
  }

  givingUp(failures: number, exitCode: number): void {
    this.logger.error(
      `giving up: the worker failed and ${failures} restarts in a row failed too (see above); stopping with exit code ${exitCode}`,
    );
  }
}

/** How a worker ended: `exit code 1` or `signal SIGKILL`. */
function how(worker: Worker): string {
  const { exitCode, signalCode } = worker.child;
  return signalCode ? `signal ${signalCode}` : `exit code ${exitCode}`;
}
