#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  asksForHelp,
  parseCount,
  parseDuration,
  parseListen,
  parseReloadBatch,
  parseWorkers,
} from './cli/arguments.js';
import { type CliCommand, CliCommands, NO_LISTENERS, UsageError, usage } from './cli/usage.js';
import { runDoctor } from './doctor/command.js';
import { ErrorCodes, GracefulRestartError } from './errors.js';
import { sendControl } from './supervisor/control.js';
import { defaultControlPath } from './supervisor/control-path.js';
import type { ControlCommand } from './supervisor/control-protocol.js';
import { SupervisorExitCodes } from './supervisor/options.js';
import { Supervisor } from './supervisor/supervisor.js';

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
      'reload-batch': { type: 'string' },
      probation: { type: 'string' },
      'lame-duck': { type: 'string' },
      control: { type: 'string' },
      cwd: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const listeners = (values.listen ?? []).map(parseListen);
  const options = {
    command: argv.slice(split + 1),
    listeners,
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
    ...(values['reload-batch'] !== undefined
      ? { reloadBatch: parseReloadBatch(values['reload-batch']) }
      : {}),
  };
  if (listeners.length === 0 && !process.env['LISTEN_FDS']) throw new UsageError(NO_LISTENERS);
  return new Supervisor(options).run();
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
    const { oldPid, newPid, oldPids, newPids, durationMs, probationMs, cwd } = reply.result;
    const serve = newPids ? `pids ${newPids.join(', ')} serve` : `pid ${newPid} serves`;
    const probation = probationMs ? `; the ${probationMs} ms probation passed` : '';
    process.stdout.write(
      `reloaded: ${serve} (replaced ${(oldPids ?? [oldPid]).join(', ')}) after ${durationMs} ms${probation}; in ${cwd}: ${reply.result.command}\n`,
    );
  } else if (command === 'status') {
    process.stdout.write(`${JSON.stringify(reply.status, null, 2)}\n`);
  } else if (command === 'stop') {
    process.stdout.write('stopped\n');
  }
  return 0;
}

const isCommand = (word: string | undefined): word is CliCommand =>
  (CliCommands as readonly string[]).includes(word ?? '');

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (isCommand(command) && asksForHelp(rest)) {
      process.stdout.write(`${usage(command)}\n`);
      return 0;
    }
    switch (command) {
      case 'run':
        return await run(rest);
      case 'reload':
      case 'status':
      case 'stop':
        return await control(command, rest);
      case 'doctor':
        return await runDoctor(rest);
      case '--version':
      case '-v':
        process.stdout.write(`${version()}\n`);
        return 0;
      case '--help':
      case '-h':
      case 'help': {
        const [about] = rest;
        process.stdout.write(`${usage(isCommand(about) ? about : undefined)}\n`);
        return 0;
      }
      default:
        throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
    }
  } catch (error) {
    const usageOf = isCommand(command) ? command : undefined;
    if (
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`graceful-restart: ${(error as Error).message}\n\n${usage(usageOf)}\n`);
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
