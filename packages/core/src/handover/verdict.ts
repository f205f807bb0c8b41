import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import type { LineChannel } from './channel.js';
import type { SupervisorMessage, WorkerMessage } from './messages.js';
import type { Verdict } from './types.js';

/** Settles when the new generation (or worker) says it leaves on purpose. */
export function saysLeaving(
  messages: LineChannel<WorkerMessage, SupervisorMessage>,
): Promise<void> {
  return new Promise((resolve) =>
    messages.on('message', (message) => {
      if (message.type === 'leaving') resolve();
    }),
  );
}

/** A new generation (or worker) on probation, as who started it sees it. */
export interface OnProbation {
  pid: number;
  child: ChildProcess;
  /** Our end of its fd 3: its last messages are read before its exit is judged. */
  channel: Socket;
  /** Settles when it says it leaves on purpose (its own handover or shutdown). */
  leaving: Promise<void>;
}

/**
 * The one probation verdict, for a direct restart and a supervisor's reload: passed after
 * `probationMs`, as soon as a new one says it leaves on purpose, or when `endEarly` aborts (a
 * newer reload); failed when one dies first without saying so. `servesAgain` ends the error's
 * first sentence: who serves instead.
 */
export function probationVerdict(
  watched: OnProbation[],
  probationMs: number,
  wording: { what: 'generation' | 'worker'; servesAgain: string },
  endEarly?: AbortSignal,
): Promise<Verdict> {
  const readyAt = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    // Ref'd on purpose: the old generation lives through the probation even with nothing to do.
    const timer = setTimeout(() => settle({ passed: true }), probationMs);
    const onEnd = () => settle({ passed: true });
    const settle = (verdict: Verdict) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      endEarly?.removeEventListener('abort', onEnd);
      resolve(verdict);
    };
    if (endEarly?.aborted) return onEnd();
    endEarly?.addEventListener('abort', onEnd, { once: true });
    for (const one of watched) {
      let leaving = false;
      void one.leaving.then(() => {
        leaving = true;
        settle({ passed: true });
      });
      void exitHeard(one).then(({ code, signal }) => {
        if (leaving) return;
        const after = Math.round(performance.now() - readyAt);
        settle({
          passed: false,
          error: new GracefulRestartError(
            ErrorCodes.ROLLED_BACK,
            `The new ${wording.what} (pid ${one.pid}) died ${after} ms after it was ready (${
              signal ? `signal ${signal}` : `exit code ${code}`
            }), within its ${probationMs} ms probation${wording.servesAgain}. Its own output above says why.`,
            { exitCode: code, signal },
          ),
        });
      });
    }
  });
}

/**
 * Resolves after `one` exits and its channel has closed: 'exit' may come before the channel's
 * last lines are read (a busy loop sees both at once), and a `leaving` sent just before the exit
 * must count. A second at most, should a process it started hold the pipe open.
 */
function exitHeard(
  one: OnProbation,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      const heard = () => resolve({ code, signal });
      if (one.channel.destroyed) return heard();
      const late = setTimeout(heard, 1000);
      one.channel.once('close', () => {
        clearTimeout(late);
        heard();
      });
    };
    const { child } = one;
    if (child.exitCode !== null || child.signalCode !== null)
      onExit(child.exitCode, child.signalCode);
    else child.once('exit', onExit);
  });
}
