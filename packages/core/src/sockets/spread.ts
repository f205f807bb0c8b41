import type { Server as NetServer } from 'node:net';

/** An accept this soon after the previous one is part of a burst. */
const BURST_GAP_NS = 200_000n;
/** How long a worker steps back after a connection it accepts in a burst. */
const PAUSE_MS = 0.02;
/** At most this much stepping back per second: a steady flood of connects costs <= 2%. */
const BUDGET_NS_PER_SECOND = 20_000_000n;
const SECOND_NS = 1_000_000_000n;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Spreads bursts of connections over the workers that accept on one listening socket
 * (`graceful-restart run --workers N`). Linux wakes every worker for a new connection and the
 * one that runs first accepts what is queued: in a burst (a client's pool filling, clients
 * reconnecting at once) one worker takes nearly all of it, above all when the others share a
 * core with something busy, and keep-alive keeps the connections there (measured: up to 49 of
 * 50 on one of two workers). Here a worker that accepts within 200 µs of its previous accept
 * sleeps a moment (20 µs asked; the kernel's timer slack adds to it): its core is free, and the
 * others take their share (then: 13 to 37 of 50, near what a coin toss per connection gives).
 * Connections further apart never wait, and the sleeps are capped at 20 ms a second.
 */
export function spreadAcceptBursts(server: NetServer): void {
  let previous = 0n;
  let budgetStart = 0n;
  let spent = 0n;
  server.on('connection', () => {
    let now = process.hrtime.bigint();
    if (now - previous < BURST_GAP_NS) {
      if (now - budgetStart >= SECOND_NS) {
        budgetStart = now;
        spent = 0n;
      }
      if (spent < BUDGET_NS_PER_SECOND) {
        Atomics.wait(sleeper, 0, 0, PAUSE_MS);
        const after = process.hrtime.bigint();
        spent += after - now;
        now = after;
      }
    }
    previous = now;
  });
}
