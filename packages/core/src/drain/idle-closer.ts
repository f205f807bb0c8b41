/**
 * Closes a drain's idle sockets at a bounded rate. Their graces end together (counted from the
 * drain's start), and clients that ignore the Keep-Alive hint reconnect the moment their socket
 * closes: thousands of closes in one tick become thousands of SYNs in one tick, more than the
 * next generation's accept queue holds (somaxconn, often 4096), while it also serves the busy
 * clients that moved over. A few per tick keeps the reconnects within what it accepts as they
 * come; more when that pace would not close them all before the deadline cuts them at once.
 */
import { now } from './connections.js';

/** Idle closes per tick of TICK_MS at least: 2,000 a second. */
const CLOSES_PER_TICK = 20;
const TICK_MS = 10;

export class IdleCloser {
  private readonly queue: (() => void)[] = [];
  /** A batch is due: in this tick's check phase, or TICK_MS after the last batch. */
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;

  /** `deadlineAt`: when the drain's deadline cuts what is left (performance.now() time). */
  constructor(private readonly deadlineAt: () => number) {}

  /**
   * Runs `close` in this tick's check phase, or a later tick's when many are due at once; it
   * checks again that its connection is still idle (a request may have come meanwhile).
   */
  add(close: () => void): void {
    this.queue.push(close);
    if (this.scheduled) return;
    this.scheduled = true;
    // In the check phase, after this loop turn's poll: a request already in a socket's receive
    // buffer is read first and keeps that socket open instead of being reset.
    setImmediate(() => this.closeSome());
  }

  private closeSome(): void {
    if (!this.scheduled) return; // stopped
    const ticksLeft = Math.max(1, Math.floor((this.deadlineAt() - now()) / TICK_MS) - 1);
    const count = Math.max(CLOSES_PER_TICK, Math.ceil(this.queue.length / ticksLeft));
    for (const close of this.queue.splice(0, count)) close();
    if (this.queue.length === 0) {
      this.scheduled = false;
      return;
    }
    this.timer = setTimeout(() => setImmediate(() => this.closeSome()), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.scheduled = false;
    this.queue.length = 0;
  }
}
