/**
 * How long a final shutdown serves on as a lame duck (generation/lame-duck.ts), and whether
 * that fits the platform's stop budget. Chosen once at startup: the option, else the
 * environment variable, else the platform's default, else off.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { ErrorCodes, GracefulRestartError } from './errors.js';
import type { Logger } from './logger.js';
import { describeValue } from './option-names.js';

/** Names the lame duck of any app, without code (also set by `graceful-restart run --lame-duck`). */
export const LAME_DUCK_ENV = 'GRACEFUL_RESTART_LAME_DUCK_MS';

/**
 * Platforms that keep routing new connections to a process for a while after its SIGTERM:
 * Kubernetes removes a terminating pod's endpoints at the same moment the kubelet signals it,
 * and kube-proxy, ingresses and cloud balancers follow seconds later; Nomad deregisters from
 * Consul at the kill, and Consul-fed proxies follow. 5 s covers that propagation, and with the
 * 8 s drain deadline fits Kubernetes' 30 s grace period. ECS deregisters a task from its target
 * groups and waits out the deregistration delay before SIGTERM; Cloud Run stops routing first:
 * both need none.
 */
const PLATFORMS = [
  { variable: 'KUBERNETES_SERVICE_HOST', platform: 'Kubernetes', ms: 5_000 },
  { variable: 'NOMAD_ALLOC_ID', platform: 'Nomad', ms: 5_000 },
] as const;

export interface LameDuckSetting {
  ms: number;
  /** Where `ms` came from, for the log. */
  why: string;
  /**
   * A platform's default: it applies to the platform's stop signal only, not to `shutdown()`
   * from code (a test suite that runs in a Kubernetes pod would otherwise wait at every stop).
   */
  signalsOnly?: boolean;
}

export function resolveLameDuck(
  option: unknown,
  env: NodeJS.ProcessEnv = process.env,
): LameDuckSetting {
  if (option !== undefined) {
    if (typeof option !== 'number' || !Number.isFinite(option) || option < 0) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_OPTION,
        `lameDuckMs must be a non-negative number of milliseconds, e.g. 5000, or 0 for none (got ${describeValue(option)}).`,
      );
    }
    return { ms: option, why: 'the lameDuckMs option' };
  }
  const text = env[LAME_DUCK_ENV];
  if (text !== undefined && text !== '') {
    if (!/^\d+$/.test(text)) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_OPTION,
        `${LAME_DUCK_ENV} must be a whole number of milliseconds, e.g. 5000, or 0 for none (got ${JSON.stringify(text)}).`,
      );
    }
    return { ms: Number(text), why: LAME_DUCK_ENV };
  }
  for (const { variable, platform, ms } of PLATFORMS) {
    if (env[variable]) {
      return { ms, why: `${platform}'s default (${variable} is set)`, signalsOnly: true };
    }
  }
  return { ms: 0, why: `no platform that routes on after SIGTERM detected; set ${LAME_DUCK_ENV}` };
}

/** A warning when a lame duck and the drain deadline do not fit in the platform's stop budget. */
export function stopBudgetWarning(
  lameDuckMs: number,
  deadlineMs: number,
  budget: { ms: number; what: string },
): string | undefined {
  // The shutdown hooks share the deadline; a second to spare for the exit itself.
  const needMs = lameDuckMs + deadlineMs + 1_000;
  if (needMs <= budget.ms) return undefined;
  return (
    `lame duck ${lameDuckMs} ms + drain deadline ${deadlineMs} ms (+1 s to exit) exceed ${budget.what} ` +
    `of ${budget.ms} ms: the service manager would kill this process mid-drain. ` +
    `Raise the budget to at least ${needMs} ms, or shorten the lame duck or drain.deadlineMs.`
  );
}

/**
 * The stop budget of the systemd unit this process runs in (TimeoutStopUSec), when it can be
 * read: under systemd (INVOCATION_ID), its unit named in /proc/self/cgroup, and systemctl there.
 */
async function systemdStopBudget(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ ms: number; what: string } | undefined> {
  if (!env['INVOCATION_ID']) return undefined;
  const cgroup = await readFile('/proc/self/cgroup', 'utf8').catch(() => '');
  const unit = /\/([^/\n]+\.service)(?:\/|$)/m.exec(cgroup)?.[1];
  if (!unit) return undefined;
  const value = await new Promise<string>((resolve) => {
    execFile(
      'systemctl',
      ['show', '--property=TimeoutStopUSec', '--value', unit],
      { timeout: 2_000 },
      (error, stdout) => resolve(error ? '' : stdout.trim()),
    );
  });
  const ms = parseSystemdTime(value);
  return ms === undefined ? undefined : { ms, what: `${unit}'s TimeoutStopSec` };
}

/** "1min 30s", "20s", "500ms", "infinity" → milliseconds (infinity: no budget). */
export function parseSystemdTime(text: string): number | undefined {
  if (text === '' || text === 'infinity') return undefined;
  const units: Record<string, number> = { ms: 1, s: 1_000, min: 60_000, h: 3_600_000 };
  let total = 0;
  for (const part of text.split(/\s+/)) {
    const match = /^(\d+(?:\.\d+)?)(ms|s|min|h)$/.exec(part);
    if (!match) return undefined;
    total += Number(match[1]) * (units[match[2] as string] as number);
  }
  return total;
}

/**
 * At the first generation's start: says which lame duck applies and why, and warns when it and
 * the drain deadline overrun the stop budget of the systemd unit, where that can be read.
 */
export function explainLameDuck(lameDuck: LameDuckSetting, deadlineMs: number, log: Logger): void {
  log.info(
    lameDuck.ms > 0
      ? `final shutdown: a lame duck of up to ${lameDuck.ms} ms, then a drain of up to ${deadlineMs} ms (${lameDuck.why})`
      : `final shutdown: no lame duck, a drain of up to ${deadlineMs} ms (${lameDuck.why})`,
  );
  void systemdStopBudget().then((budget) => {
    const warning = budget && stopBudgetWarning(lameDuck.ms, deadlineMs, budget);
    if (warning) log.warn(warning);
  });
}
