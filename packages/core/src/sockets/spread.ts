import type { Server as NetServer } from 'node:net';

/** An accept this soon after the previous one is part of a burst. */
const BURST_GAP_NS = 200_000n;
/** How long a worker steps back after a connection it accepts in a burst. */
const PAUSE_MS = 0.02;
/** At most this much stepping back per second: a steady flood of connects costs little. */
const BUDGET_NS_PER_SECOND = 20_000_000n;
const SECOND_NS = 1_000_000_000n;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * When a worker steps back after an accept: only in a burst (an accept soon after the previous
 * one), and within a budget per second. Pure: the caller gives the times (hrtime, in ns).
 */
export class BurstBudget {
  private previous = 0n;
  private budgetStart = 0n;
  private spent = 0n;

  /** An accept at `now`: true when this worker should step back now. */
  accept(now: bigint): boolean {
    const burst = now - this.previous < BURST_GAP_NS;
    this.previous = now;
    if (!burst) return false;
    if (now - this.budgetStart >= SECOND_NS) {
      this.budgetStart = now;
      this.spent = 0n;
    }
    return this.spent < BUDGET_NS_PER_SECOND;
  }

  /** The step back lasted from `from` to `to`. */
  steppedBack(from: bigint, to: bigint): void {
    this.spent += to - from;
    this.previous = to;
  }
}

/**
 * Spreads bursts of connections over the workers that accept on one listening socket
 * (`graceful-restart run --workers N`). Linux wakes every worker for a new connection and the
 * one that runs first accepts what is queued: in a burst (a client's pool filling, clients
 * reconnecting at once) one worker would take nearly all of it, above all when the others share
 * a core with something busy, and keep-alive keeps the connections there. A worker that accepts
 * in a burst sleeps a moment: its core is free, and the others take their share (docs/supervisor.md
 * has the figures). Connections further apart never wait.
 */
export function spreadAcceptBursts(server: NetServer): void {
  const budget = new BurstBudget();
  server.on('connection', () => {
    const now = process.hrtime.bigint();
    if (!budget.accept(now)) return;
    Atomics.wait(sleeper, 0, 0, PAUSE_MS);
    budget.steppedBack(now, process.hrtime.bigint());
  });
}
