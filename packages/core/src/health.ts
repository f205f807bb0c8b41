import { ErrorCodes, GracefulRestartError } from './errors.js';
import { isShuttingDown, type State } from './generation/state.js';
import { describeValue } from './option-names.js';

/** Why readiness answers what it does. */
export type ReadinessStatus = 'ok' | 'starting' | 'not ready' | 'lame duck' | 'shutting down';

export interface HealthAnswer {
  statusCode: 200 | 503;
  body: { status: ReadinessStatus; state: State; pid: number; reason?: string };
}

/**
 * Readiness and liveness of one generation, and what the lame duck reads of the balancer's
 * checks (lame-duck.ts): how many readiness answers were 503, and how often checks come.
 *
 * Readiness: 503 before the first generation is ready, while the app says it is not
 * (setReady(false)), during a lame duck and a final drain. During a handover both generations
 * answer 200: the address keeps serving. Liveness: 200 until the process exits.
 */
export class Health {
  private appReady = true;
  private appReason: string | undefined;
  /** Readiness and liveness answers given, and the readiness answers that were 503. */
  checks = 0;
  notReadyAnswers = 0;
  /** The time between the last two readiness checks: how often the balancer asks. */
  checkIntervalMs: number | undefined;
  private lastCheckAt: number | undefined;

  constructor(private readonly state: () => State) {}

  /** The app's own verdict (its database is gone, it is overloaded): false answers 503. */
  setReady(ready: boolean, reason?: string): void {
    if (typeof ready !== 'boolean' || (reason !== undefined && typeof reason !== 'string')) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_OPTION,
        `setReady() takes true or false, and an optional reason string, e.g. setReady(false, 'database unreachable') (got ${describeValue(ready)}, ${describeValue(reason)}).`,
      );
    }
    if (isShuttingDown(this.state())) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_STATE,
        'setReady() after shutdown began: readiness answers 503 until this process exits.',
      );
    }
    this.appReady = ready;
    this.appReason = ready ? undefined : reason;
  }

  get ready(): boolean {
    return this.status() === 'ok';
  }

  /** The readiness route's answer; `extraReason` is a further not-ready verdict (under-pressure). */
  readiness(extraReason?: string): HealthAnswer {
    const at = performance.now();
    if (this.lastCheckAt !== undefined) this.checkIntervalMs = at - this.lastCheckAt;
    this.lastCheckAt = at;
    this.checks++;
    let status = this.status();
    let reason = status === 'not ready' ? this.appReason : undefined;
    if (status === 'ok' && extraReason !== undefined) [status, reason] = ['not ready', extraReason];
    if (status !== 'ok') this.notReadyAnswers++;
    return answer(status === 'ok' ? 200 : 503, status, this.state(), reason);
  }

  /** The liveness route's answer: 200 until the process exits. */
  liveness(): HealthAnswer {
    this.checks++;
    return answer(200, 'ok', this.state());
  }

  private status(): ReadinessStatus {
    const state = this.state();
    if (state === 'lame-duck') return 'lame duck';
    if (isShuttingDown(state)) return 'shutting down';
    // A successor before ready answers 200: the address it shares keeps serving.
    if (state === 'starting') return 'starting';
    return this.appReady ? 'ok' : 'not ready';
  }
}

function answer(
  statusCode: 200 | 503,
  status: ReadinessStatus,
  state: State,
  reason?: string,
): HealthAnswer {
  const body: HealthAnswer['body'] = { status, state, pid: process.pid };
  if (reason !== undefined) body.reason = reason;
  return { statusCode, body };
}

/** The readiness answer of `graceful` (kept for apps written before readiness()). */
export function healthAnswer(graceful: { readiness(): HealthAnswer }): HealthAnswer {
  return graceful.readiness();
}
