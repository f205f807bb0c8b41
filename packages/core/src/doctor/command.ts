import { parseArgs } from 'node:util';
import {
  parseCount,
  parseDuration,
  parseListen,
  parseReloadBatch,
  parseWorkers,
} from '../cli/arguments.js';
import { DEFAULTS } from '../defaults.js';
import { resolveLameDuck } from '../lame-duck-setting.js';
import { defaultControlPath } from '../supervisor/control-path.js';
import { checkMemory, checkOpenFiles, checkPorts, checkSomaxconn } from './capacity-checks.js';
import type { DoctorPlan, Finding } from './finding.js';
import { checkControlSocket, checkPidFile } from './path-checks.js';
import {
  checkActivatedNames,
  checkNode,
  checkPlatform,
  checkRestartMode,
  checkUnit,
} from './process-checks.js';

/** `graceful-restart doctor [options]`: every check, printed; exit 0 unless one failed. */
export async function runDoctor(argv: string[]): Promise<number> {
  const plan = planFrom(argv);
  const findings = await diagnose(plan);
  if (argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ ok: passes(findings), findings }, null, 2)}\n`);
  } else {
    process.stdout.write(report(plan, findings));
  }
  return passes(findings) ? 0 : 1;
}

function planFrom(argv: string[]): DoctorPlan {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string', short: 'l', multiple: true },
      supervisor: { type: 'boolean' },
      workers: { type: 'string' },
      'reload-batch': { type: 'string' },
      connections: { type: 'string' },
      'worker-memory': { type: 'string' },
      'pid-file': { type: 'string' },
      unit: { type: 'string' },
      'drain-deadline': { type: 'string' },
      'lame-duck': { type: 'string' },
      control: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  const workers = values.workers === undefined ? 1 : parseWorkers(values.workers);
  const batch = values['reload-batch'];
  return {
    supervised: values.supervisor === true || values.workers !== undefined,
    listeners: (values.listen ?? []).map(parseListen),
    workers,
    reloadBatch: batch === undefined ? workers : Math.min(parseReloadBatch(batch), workers),
    connections: values.connections ? parseCount(values.connections, '--connections') : 1000,
    workerMemoryMb: values['worker-memory']
      ? parseCount(values['worker-memory'], '--worker-memory')
      : 150,
    deadlineMs: values['drain-deadline']
      ? parseDuration(values['drain-deadline'], '--drain-deadline')
      : DEFAULTS.deadlineMs,
    lameDuckMs:
      values['lame-duck'] !== undefined
        ? parseDuration(values['lame-duck'], '--lame-duck')
        : resolveLameDuck(undefined).ms,
    pidFile: values['pid-file'],
    controlPath: values.control ?? defaultControlPath(),
    unit: values.unit,
  };
}

async function diagnose(plan: DoctorPlan): Promise<Finding[]> {
  return [
    checkPlatform(),
    checkNode(),
    checkRestartMode(plan),
    ...(await checkUnit(plan)),
    checkActivatedNames(plan),
    checkSomaxconn(plan),
    checkOpenFiles(plan),
    checkMemory(plan),
    ...(await checkPorts(plan)),
    await checkPidFile(plan),
    await checkControlSocket(plan),
  ];
}

const passes = (findings: Finding[]): boolean => findings.every((f) => f.status !== 'fail');

const MARK: Record<Finding['status'], string> = {
  ok: 'ok  ',
  warn: 'WARN',
  fail: 'FAIL',
  skip: '-   ',
};

function report(plan: DoctorPlan, findings: Finding[]): string {
  const mode = plan.supervised
    ? `under graceful-restart run (${plan.workers} worker(s))`
    : 'direct (node server.mjs)';
  const lines = [`graceful-restart doctor: pid ${process.pid}, ${mode}`];
  for (const f of findings) {
    lines.push(`  ${MARK[f.status]}  ${f.check}: ${f.says}`);
    if (f.fix && f.status !== 'ok') lines.push(`        fix: ${f.fix}`);
  }
  const failed = findings.filter((f) => f.status === 'fail').length;
  const warned = findings.filter((f) => f.status === 'warn').length;
  lines.push(
    failed === 0
      ? `A zero-downtime restart is possible here${warned ? ` (${warned} warning(s))` : ''}.`
      : `A zero-downtime restart is not possible here: ${failed} problem(s) to fix.`,
  );
  return `${lines.join('\n')}\n`;
}
