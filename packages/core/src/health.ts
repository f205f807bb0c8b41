import type { Graceful } from './generation/graceful.js';
import type { State } from './generation/state.js';

export interface HealthAnswer {
  /** 503 only once this process shuts down for good: a load balancer should stop sending. */
  statusCode: 200 | 503;
  body: { status: 'ok' | 'shutting down'; state: State; pid: number };
}

/**
 * The health route every adapter mounts. During a handover the old generation still answers
 * 200: its successor accepts on the same socket, so the address stays healthy.
 */
export function healthAnswer(graceful: Graceful): HealthAnswer {
  const down = graceful.shuttingDown;
  return {
    statusCode: down ? 503 : 200,
    body: { status: down ? 'shutting down' : 'ok', state: graceful.state, pid: graceful.pid },
  };
}
