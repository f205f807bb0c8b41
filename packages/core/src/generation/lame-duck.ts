/**
 * A lame duck: after a final stop signal the generation serves on, its readiness 503 and its
 * responses `Connection: close`, until the load balancer has moved off; only then does it drain.
 * An orchestrator (Kubernetes, Nomad) or a health-checking proxy keeps sending new connections
 * for a while after the stop: a process that stopped listening at once would refuse them.
 */
import type { Health } from '../health.js';
import type { LameDuckSetting } from '../lame-duck-setting.js';

/** How a lame duck ended: its time was up, the balancer had moved off, or a second signal. */
export type LameDuckEnd = 'time' | 'balancer' | 'signal';

/** What the lame duck sees of the balancer. */
interface BalancerSigns {
  /** Since readiness answered 503 for the second time in this lame duck; undefined before. */
  msSinceToldTwice: number | undefined;
  /** Since the last request that was not a health check (or since the lame duck began). */
  msSinceTraffic: number;
  /** The time between the balancer's last two readiness checks, when seen. */
  checkIntervalMs: number | undefined;
}

/** No traffic for at least this long, however often the balancer checks. */
const QUIET_FLOOR_MS = 1_000;
/** How often the lame duck looks. */
const LOOK_EVERY_MS = 100;

/**
 * True once the balancer has visibly moved off: readiness has said 503 twice (a proxy marks a
 * server down after `fall` failed checks), and since then, for two check intervals (at least
 * QUIET_FLOOR_MS), no request came but health checks. So a proxy with `fall` up to 3 has marked
 * this server down before the lame duck ends, even when traffic is too sparse to show it. A
 * balancer that never checks readiness (Kubernetes removes a stopping pod's endpoints by itself)
 * shows nothing: the lame duck then lasts its configured time.
 */
export function balancerMovedOff(signs: BalancerSigns): boolean {
  if (signs.msSinceToldTwice === undefined) return false;
  const quietMs = Math.max(QUIET_FLOOR_MS, 2 * (signs.checkIntervalMs ?? 0));
  return Math.min(signs.msSinceToldTwice, signs.msSinceTraffic) >= quietMs;
}

/** What a lame duck uses of its generation. */
interface LameDuckParts {
  servers: { beginLameDuck(): void; arrivals(): number };
  health: Health;
  log: {
    lameDuck(setting: LameDuckSetting): void;
    lameDuckOver(endedBy: LameDuckEnd, durationMs: number): void;
  };
}

export class LameDuck {
  private endNow: ((how: LameDuckEnd) => void) | undefined;

  constructor(
    private readonly setting: LameDuckSetting,
    private readonly parts: LameDuckParts,
  ) {}

  /** Serves on until the time is up or the balancer has moved off (or end() is called). */
  async run(): Promise<{ endedBy: LameDuckEnd; durationMs: number }> {
    const { servers, health, log } = this.parts;
    servers.beginLameDuck();
    log.lameDuck(this.setting);
    const ended = await this.watch(health, () => servers.arrivals());
    log.lameDuckOver(ended.endedBy, ended.durationMs);
    return ended;
  }

  /** A second stop signal: drain now. */
  end(): void {
    this.endNow?.('signal');
  }

  /** `arrivals`: requests (and raw connections) received so far, health checks among them. */
  private watch(
    health: Health,
    arrivals: () => number,
  ): Promise<{ endedBy: LameDuckEnd; durationMs: number }> {
    const startedAt = performance.now();
    const notReadyBefore = health.notReadyAnswers;
    let lastTraffic = arrivals() - health.checks;
    let trafficAt = startedAt;
    let toldTwiceAt: number | undefined;
    return new Promise((resolve) => {
      const finish = (endedBy: LameDuckEnd) => {
        clearTimeout(timer);
        clearInterval(look);
        this.endNow = undefined;
        resolve({ endedBy, durationMs: Math.round(performance.now() - startedAt) });
      };
      this.endNow = finish;
      const timer = setTimeout(() => finish('time'), this.setting.ms);
      const look = setInterval(() => {
        const now = performance.now();
        // Health checks count as arrivals too: only a rise beyond them is traffic.
        const traffic = arrivals() - health.checks;
        if (traffic > lastTraffic) trafficAt = now;
        lastTraffic = traffic;
        if (toldTwiceAt === undefined && health.notReadyAnswers - notReadyBefore >= 2) {
          toldTwiceAt = now;
        }
        const signs = {
          msSinceToldTwice: toldTwiceAt === undefined ? undefined : now - toldTwiceAt,
          msSinceTraffic: now - trafficAt,
          checkIntervalMs: health.checkIntervalMs,
        };
        if (balancerMovedOff(signs)) finish('balancer');
      }, LOOK_EVERY_MS);
    });
  }
}
