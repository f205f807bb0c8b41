/**
 * A crash is a handover, not an outage. On an uncaught exception or unhandled rejection the
 * generation prints the error as node would, stops accepting at once and hands its listeners to
 * a fresh generation of the same command (direct mode: the spawn passes the fds, so connections
 * wait in the listen backlog, none is refused) or tells the supervisor, which starts the
 * replacement in that slot at once. Meanwhile it answers the requests already in flight, within
 * the crash deadline, and exits 1. crashPlan() says when it does not hand over.
 */
import { inspect } from 'node:util';
import type { DrainReport } from '../handover/messages.js';
import type { StarterLink } from '../handover/starter-link.js';
import type { RestartStrategy } from '../handover/strategies.js';
import type { Handover } from '../handover/types.js';
import type { ResolvedOptions } from '../options.js';
import { handOffValue } from './hand-off.js';
import type { GenerationLog } from './log-lines.js';
import type { GenerationServers } from './servers.js';
import type { Outcome } from './state.js';

/** Direct mode: at most this many crash handovers in a row within the window, then no more. */
export const CRASH_BUDGET = { handovers: 3, windowMs: 60_000 } as const;
/** A direct-mode generation must have served this long (at least) to hand over on a crash. */
const MIN_SERVED_MS = 1_000;

type CrashPlan =
  | { action: 'hand-over' }
  /** No handover: answer what is in flight (within the crash deadline), then exit 1. */
  | { action: 'drain-and-exit'; why: string }
  /** Exit 1 at once, as node would: whoever started this generation takes it from there. */
  | { action: 'exit-now'; why: string };

export interface CrashFacts {
  /** The generation this one replaced is gone (none may roll back to serve again). */
  predecessorGone: boolean;
  supervised: boolean;
  /** The restart strategy may start a next generation here (not PID 1, not `npm start`). */
  canRestart: boolean;
  servedMs: number;
  probationMs: number;
  /** Crash handovers within CRASH_BUDGET.windowMs before this crash, this line of generations. */
  recentHandovers: number;
}

/** What a crash leads to, given what the table answered for `crash` and the facts. */
export function crashPlan(outcome: Outcome, facts: CrashFacts): CrashPlan {
  if (outcome.type === 'refuse') {
    return { action: 'exit-now', why: 'it crashed before it was ready: its start failed' };
  }
  if (outcome.type !== 'move') return { action: 'drain-and-exit', why: 'it was on its way out' };
  if (!facts.predecessorGone) {
    return {
      action: 'exit-now',
      why: 'the generation it replaced is on probation and serves again (rollback)',
    };
  }
  // The supervisor's backoff and --max-restarts bound a crash loop of workers.
  if (facts.supervised) return { action: 'hand-over' };
  if (!facts.canRestart) {
    return { action: 'drain-and-exit', why: 'restarts are refused here (see the startup warning)' };
  }
  const minServedMs = Math.max(facts.probationMs, MIN_SERVED_MS);
  if (facts.servedMs < minServedMs) {
    return {
      action: 'drain-and-exit',
      why: `it crashed ${Math.round(facts.servedMs)} ms after it was ready, within its probation (${minServedMs} ms): a release that crashes at once is not started again`,
    };
  }
  if (facts.recentHandovers >= CRASH_BUDGET.handovers) {
    return {
      action: 'drain-and-exit',
      why: `${facts.recentHandovers + 1} crashes within ${CRASH_BUDGET.windowMs / 1000} s: no more handovers until it serves steadily`,
    };
  }
  return { action: 'hand-over' };
}

/** The error as node prints an uncaught one: its inspection, with the stack. */
function printCrash(error: unknown, origin: string): void {
  const what = origin === 'unhandledRejection' ? 'Unhandled rejection' : 'Uncaught exception';
  try {
    process.stderr.write(`${what}: ${inspect(error)}\n`);
  } catch {
    // stderr is gone: the log line below says it
  }
}

/** What a crash uses of its generation. */
interface CrashParts {
  options: ResolvedOptions;
  predecessor: StarterLink | undefined;
  strategy: RestartStrategy;
  servers: GenerationServers;
  log: GenerationLog;
  appHooks: { handOff: (() => unknown) | undefined };
}

export class CrashResponse {
  private responding = false;
  private origin = 'uncaughtException';
  private readonly listener = (error: unknown, origin: string) => {
    this.origin = origin;
    this.onCrash(error);
  };
  private onCrash: (error: unknown) => void = () => undefined;

  constructor(
    private readonly parts: CrashParts,
    /** When the crash handovers before this generation happened (epoch ms), from its manifest. */
    private readonly history: readonly number[],
  ) {}

  /** From now on an uncaught exception or unhandled rejection goes to `onCrash`. */
  install(onCrash: (error: unknown) => void): void {
    this.onCrash = onCrash;
    process.on('uncaughtException', this.listener);
  }

  uninstall(): void {
    process.off('uncaughtException', this.listener);
  }

  /** Carries out the crash: hand over (or not, as crashPlan() says), drain, exit 1. */
  async respond(
    error: unknown,
    outcome: Outcome,
    drain: Promise<DrainReport> | undefined,
    servedMs: number,
  ): Promise<void> {
    printCrash(error, this.origin);
    // A crash while handling one: nothing more to save.
    if (this.responding) process.exit(1);
    this.responding = true;
    const { options, predecessor: link, strategy, servers, log } = this.parts;
    const now = Date.now();
    const recent = this.history.filter((at) => now - at < CRASH_BUDGET.windowMs);
    const plan = crashPlan(outcome, {
      // A generation that crashed and handed over (its manifest says so) never rolls back.
      predecessorGone: this.history.length > 0 || (await settledNow(link?.predecessorExited)),
      supervised: strategy.supervised,
      canRestart: strategy.canRestart,
      servedMs,
      probationMs: options.probationMs,
      recentHandovers: recent.length,
    });
    log.crashed(error, plan);
    if (plan.action === 'exit-now') process.exit(1);
    let successor: Promise<Handover | undefined> = Promise.resolve(undefined);
    if (plan.action === 'hand-over') {
      if (link?.supervised) link.sendCrashed();
      // The spawn, synchronous within next(), gives the fds to the next generation: this one
      // may stop accepting at once, connections wait in the backlog until it accepts.
      else
        successor = strategy.next(new AbortController().signal, performance.now(), [
          ...recent,
          now,
        ]);
      successor.then(
        (handover) => {
          if (!handover) return;
          log.crashHandedOver(handover.result);
          // Counters go on across a crash too (metrics): the app's value, as at a restart.
          const provider = this.parts.appHooks.handOff;
          void handOffValue(provider, log.logger).then((data) => handover.successor?.handOff(data));
        },
        (failure: Error) => log.crashHandoverFailed(failure),
      );
    }
    const { crashDeadlineMs } = options;
    const draining =
      drain ??
      servers.drain(() => undefined, { deadlineMs: crashDeadlineMs, paceMs: 0, upgradedPaceMs: 0 });
    await Promise.race([draining, new Promise((resolve) => setTimeout(resolve, crashDeadlineMs))]);
    // The next generation says ready through this process: it exits once that is settled.
    await successor.catch(() => undefined);
    process.exit(1);
  }
}

/** True when `promise` has settled by now (one turn of the microtask queue). */
async function settledNow(promise: Promise<void> | undefined): Promise<boolean> {
  if (!promise) return true;
  let settled = false;
  void promise.then(() => {
    settled = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}
