import { readFileSync } from 'node:fs';
import { DEFAULTS } from '../defaults.js';

let somaxconnBacklog: number | undefined;

/**
 * The listen(2) backlog when a listener gives none: net.core.somaxconn (4096 on Linux since
 * 5.4), at least DEFAULTS.minBacklog. Read once per process.
 */
function defaultBacklog(): number {
  if (somaxconnBacklog === undefined) {
    let somaxconn = Number.NaN;
    try {
      somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    } catch {
      // not Linux, or no /proc
    }
    somaxconnBacklog =
      Number.isInteger(somaxconn) && somaxconn > 0
        ? Math.min(Math.max(somaxconn, DEFAULTS.minBacklog), 65_535)
        : DEFAULTS.fallbackBacklog;
  }
  return somaxconnBacklog;
}

/**
 * The backlog a listener listens with, in every generation: the app's own, else the one the
 * socket was handed over with (node's listen({ fd }) would reset it to 511), else the default.
 */
export function backlogFor(given: number | undefined, handedOver?: number): number {
  return given ?? handedOver ?? defaultBacklog();
}
