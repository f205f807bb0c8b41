import { stopBudgetWarning } from '../lame-duck-setting.js';
import { directRestartHazard } from '../parent.js';
import { listenerName } from '../sockets/spec.js';
import { type DoctorPlan, type Finding, fail, ok, skip, warn } from './finding.js';
import { readUnit } from './systemd-unit.js';

export function checkPlatform(): Finding {
  return process.platform === 'win32'
    ? fail(
        'platform',
        'Windows: node cannot hand a listening socket to a child process there',
        'Run on Linux or another Unix system (WSL works).',
      )
    : ok('platform', process.platform);
}

/** Node 20.19 is the floor; a successor starts faster with the compile cache (22.1). */
export function checkNode(version: string = process.versions.node): Finding {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    return fail('node', `Node ${version} is older than 20.19`, 'Install Node 22, 24 or 26.');
  }
  if (major < 22 || (major === 22 && minor < 1)) {
    return warn(
      'node',
      `Node ${version}: no compile cache, so each successor compiles the app afresh and says ready later`,
      'Node 22.1 or newer reuses the compiled code of the previous generation.',
    );
  }
  return ok('node', `Node ${version}, with the compile cache for successors`);
}

/** PID 1, a package manager's script, a file watcher, a terminal session: direct restarts refused. */
export function checkRestartMode(plan: DoctorPlan): Finding {
  const hazard = directRestartHazard();
  if (!hazard) {
    return ok(
      'restart mode',
      plan.supervised ? 'under the supervisor' : 'direct restarts work here',
    );
  }
  if (plan.supervised) {
    return ok(
      'restart mode',
      `under the supervisor, which keeps the pid (directly: ${hazard.reason})`,
    );
  }
  return fail('restart mode', `direct restarts are refused here: ${hazard.reason}`, hazard.fix);
}

/** The unit's type, notify access, kill mode, stop budget and reload command. */
export async function checkUnit(plan: DoctorPlan): Promise<Finding[]> {
  let unit: Awaited<ReturnType<typeof readUnit>>;
  try {
    unit = await readUnit(plan.unit);
  } catch (error) {
    return [
      fail(
        'systemd unit',
        `cannot read ${plan.unit}: ${(error as Error).message}`,
        "Give --unit NAME or the unit file's path.",
      ),
    ];
  }
  if (!unit) {
    return [
      plan.unit
        ? fail(
            'systemd unit',
            `systemctl cannot show ${plan.unit} here`,
            "Run doctor on the host with the unit, or give the unit file's path.",
          )
        : skip(
            'systemd unit',
            'not started by systemd (give --unit NAME or a unit file to check one)',
          ),
    ];
  }
  const name = `${unit.unit} (${unit.source})`;
  const found: Finding[] = [];
  if (unit.type === 'notify' && unit.notifyAccess !== 'all') {
    found.push(
      fail(
        'unit readiness',
        `${name}: Type=notify with NotifyAccess=${unit.notifyAccess}: systemd ignores the readiness of every process but the first`,
        'Set NotifyAccess=all.',
      ),
    );
  } else if (unit.type !== 'notify' && !plan.supervised) {
    found.push(
      fail(
        'unit readiness',
        `${name}: Type=${unit.type}: when the first process exits after a restart, systemd takes the service for stopped and ends its successor`,
        'Set Type=notify and NotifyAccess=all (the library tells systemd the new main pid), or use graceful-restart run.',
      ),
    );
  } else {
    found.push(
      ok('unit readiness', `${name}: Type=${unit.type}, NotifyAccess=${unit.notifyAccess}`),
    );
  }
  found.push(
    unit.killMode === 'none'
      ? warn(
          'unit kill mode',
          `${name}: KillMode=none leaves draining generations unmanaged after a stop`,
          'Set KillMode=mixed.',
        )
      : ok('unit kill mode', `KillMode=${unit.killMode}`),
  );
  const budget = unit.timeoutStopMs;
  const over =
    budget === undefined
      ? undefined
      : stopBudgetWarning(plan.lameDuckMs, plan.deadlineMs, { ms: budget, what: `TimeoutStopSec` });
  found.push(
    over
      ? fail(
          'unit stop budget',
          `${name}: ${over.split(': ')[0]}`,
          over.slice(over.indexOf('Raise')),
        )
      : ok(
          'unit stop budget',
          `TimeoutStopSec ${budget === undefined ? 'infinity' : `${budget} ms`} holds a lame duck of ${plan.lameDuckMs} ms and a ${plan.deadlineMs} ms drain`,
        ),
  );
  found.push(
    unit.execReload
      ? ok('unit reload', 'ExecReload is set: systemctl reload restarts')
      : warn(
          'unit reload',
          `${name}: no ExecReload, so systemctl reload fails`,
          'Set ExecReload=/bin/kill -HUP $MAINPID.',
        ),
  );
  return found;
}

/** Socket activation (LISTEN_FDNAMES) must name an fd for each listener the app asks for. */
export function checkActivatedNames(plan: DoctorPlan, env = process.env): Finding {
  const fds = Number(env['LISTEN_FDS'] ?? 0);
  if (!fds) return skip('socket activation', 'no sockets passed by systemd (LISTEN_FDS unset)');
  const names = (env['LISTEN_FDNAMES'] ?? '').split(':').filter(Boolean);
  const wanted = plan.listeners.map((spec) => listenerName(spec));
  const missing = wanted.filter((name) => !names.includes(name));
  if (missing.length > 0 && !(fds === 1 && wanted.length === 1)) {
    return fail(
      'socket activation',
      `the socket unit passes ${fds} fd(s) named ${names.join(', ') || '(none)'}, the app asks for ${missing.join(', ')}`,
      `Name them in the .socket unit: FileDescriptorName=${missing[0]}.`,
    );
  }
  return ok('socket activation', `${fds} fd(s): ${names.join(', ') || 'unnamed'}`);
}
