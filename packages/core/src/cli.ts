#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULTS } from './defaults.js';
import { ErrorCodes, GracefulRestartError } from './errors.js';
import type { ListenerSpec } from './sockets/spec.js';
import { sendControl } from './supervisor/control.js';
import { defaultControlPath } from './supervisor/control-path.js';
import type { ControlCommand } from './supervisor/control-protocol.js';
import { Supervisor, SupervisorExitCodes } from './supervisor/supervisor.js';

const USAGE = `Usage:
  graceful-restart run [options] -- <command> [args...]
      Supervise <command> (e.g. node app.js) with a stable pid: hold the listeners, start the
      app as a worker with them, replace it on SIGHUP or "reload", restart it after a crash.
      --listen, -l SPEC      name=host:port | name=unix:/path[,mode=0660] (repeatable; the name
                             defaults to "${DEFAULTS.listenerName}"); socket-activated fds are taken too
      --pid-file FILE        write the supervisor's pid (it never changes)
      --ready-timeout TIME   how long a worker may take to say ready (default ${DEFAULTS.readyTimeoutMs / 1000}s)
      --workers N|auto       how many workers serve side by side on the same listeners
                             (default 1; auto: one per available CPU); a reload replaces
                             them all, a crash only the one that died
      --max-restarts N       consecutive failed worker starts before giving up (default ${DEFAULTS.maxRestarts})
      --probation TIME       after a reload the old worker holds on this long; if the new one
                             dies meanwhile, the old one serves again and reload fails
                             (default $GRACEFUL_RESTART_PROBATION_MS ms, else
                             ${DEFAULTS.probationMs / 1000}s; 0 turns it off)
      --lame-duck TIME       on stop, the workers serve on this long first, readiness 503 and
                             Connection: close, until the load balancer has moved off (ends
                             sooner once it visibly has; a second signal skips it); default
                             $GRACEFUL_RESTART_LAME_DUCK_MS ms, else 5s under Kubernetes and
                             Nomad, else 0 (none)
      --cwd DIR              the workers' directory, followed anew at every start (a release
                             directory's current/); default: $GRACEFUL_RESTART_CWD, else the
                             directory this was started from as $PWD names it
      --control PATH         control socket (default: $GRACEFUL_RESTART_CONTROL, else
                             $XDG_RUNTIME_DIR/graceful-restart.sock, else in a
                             directory of this user's in the temp dir)
  graceful-restart reload [--control PATH]   replace the worker; exits 1 if that failed
  graceful-restart status [--control PATH]   print the supervisor's state as JSON
  graceful-restart stop   [--control PATH]   drain the workers and stop; waits for the exit

Exit codes of run: 0 stopped cleanly, 1 failed (bind, control socket, a drain cut at its
deadline), 2 usage, 3 gave up after repeated worker failures.`;

class UsageError extends Error {}

/** `name=host:port`, `name=[::1]:port`, `name=unix:/path[,mode=0660]`; the name may be left out. */
function parseListen(text: string): ListenerSpec {
  const eq = text.indexOf('=');
  const hasName = eq > 0 && !text.slice(0, eq).includes(':') && !text.startsWith('unix:');
  const name = hasName ? text.slice(0, eq) : DEFAULTS.listenerName;
  const address = hasName ? text.slice(eq + 1) : text;
  if (address.startsWith('unix:')) {
    const [path = '', ...options] = address.slice(5).split(',');
    const spec: ListenerSpec = { name, path };
    for (const option of options) {
      const mode = /^mode=(0?[0-7]{3})$/.exec(option);
      if (!mode?.[1])
        throw new UsageError(
          `--listen ${text}: unknown option "${option}" (only mode=0660 style is accepted)`,
        );
      spec.mode = Number.parseInt(mode[1], 8);
    }
    return spec;
  }
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address) ?? /^()()(\d+)$/.exec(address);
  if (!match?.[3]) {
    throw new UsageError(
      `--listen ${text}: expected name=host:port (e.g. web=127.0.0.1:3000, web=[::1]:3000) or name=unix:/path`,
    );
  }
  const host = match[1] || match[2] || DEFAULTS.host;
  return { name, host, port: Number(match[3]) };
}

/** `1500`, `1500ms`, `30s`: milliseconds. */
function parseDuration(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text);
  if (!match?.[1]) throw new UsageError(`${option} ${text}: expected a duration like 30s or 500ms`);
  return Math.round(Number(match[1]) * (match[2] === 's' ? 1000 : 1));
}

function parseCount(text: string, option: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${option} ${text}: expected a whole number`);
  return Number(text);
}

/** `--workers N` (1 or more) or `auto`: one per CPU this process may use. */
function parseWorkers(text: string): number {
  if (text === 'auto') return availableParallelism();
  const count = parseCount(text, '--workers');
  if (count < 1) throw new UsageError(`--workers ${text}: expected 1 or more, or auto`);
  return count;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  return String(pkg.version);
}

async function run(argv: string[]): Promise<number> {
  const split = argv.indexOf('--');
  if (split < 0)
    throw new UsageError('run: give the worker command after "--", e.g. -- node app.js');
  const { values } = parseArgs({
    args: argv.slice(0, split),
    options: {
      listen: { type: 'string', short: 'l', multiple: true },
      'pid-file': { type: 'string' },
      'ready-timeout': { type: 'string' },
      'max-restarts': { type: 'string' },
      workers: { type: 'string' },
      probation: { type: 'string' },
      'lame-duck': { type: 'string' },
      control: { type: 'string' },
      cwd: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const supervisor = new Supervisor({
    command: argv.slice(split + 1),
    listeners: (values.listen ?? []).map(parseListen),
    controlPath: values.control ?? defaultControlPath(),
    ...(values['pid-file'] ? { pidFile: values['pid-file'] } : {}),
    ...(values.cwd ? { cwd: values.cwd } : {}),
    ...(values['ready-timeout']
      ? { readyTimeoutMs: parseDuration(values['ready-timeout'], '--ready-timeout') }
      : {}),
    ...(values.probation !== undefined
      ? { probationMs: parseDuration(values.probation, '--probation') }
      : {}),
    ...(values['lame-duck'] !== undefined
      ? { lameDuckMs: parseDuration(values['lame-duck'], '--lame-duck') }
      : {}),
    ...(values['max-restarts']
      ? { maxRestarts: parseCount(values['max-restarts'], '--max-restarts') }
      : {}),
    ...(values.workers !== undefined ? { workers: parseWorkers(values.workers) } : {}),
  });
  return supervisor.run();
}

async function control(command: ControlCommand, argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { control: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const reply = await sendControl(values.control ?? defaultControlPath(), command);
  if (!reply.ok) {
    process.stderr.write(`graceful-restart ${command} failed (${reply.code}): ${reply.message}\n`);
    return 1;
  }
  if (command === 'reload' && reply.result) {
    const { oldPid, newPid, oldPids, newPids, durationMs, cwd, command } = reply.result;
    const serve = newPids ? `pids ${newPids.join(', ')} serve` : `pid ${newPid} serves`;
    process.stdout.write(
      `reloaded: ${serve} (replaced ${(oldPids ?? [oldPid]).join(', ')}) after ${durationMs} ms, in ${cwd}: ${command}\n`,
    );
  } else if (command === 'status') {
    process.stdout.write(`${JSON.stringify(reply.status, null, 2)}\n`);
  } else if (command === 'stop') {
    process.stdout.write('stopped\n');
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await run(rest);
      case 'reload':
      case 'status':
      case 'stop':
        return await control(command, rest);
      case '--version':
      case '-v':
        process.stdout.write(`${version()}\n`);
        return 0;
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return 0;
      default:
        throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
    }
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`graceful-restart: ${(error as Error).message}\n\n${USAGE}\n`);
      return SupervisorExitCodes.USAGE;
    }
    if (error instanceof GracefulRestartError) {
      process.stderr.write(`graceful-restart: ${error.message} (${error.code})\n`);
      return error.code === ErrorCodes.INVALID_OPTION || error.code === ErrorCodes.INVALID_LISTENER
        ? SupervisorExitCodes.USAGE
        : SupervisorExitCodes.FAILED;
    }
    throw error;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
