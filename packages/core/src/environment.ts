import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { MANIFEST_ENV } from './handover/manifest.js';

/** Variables the library consumes at startup (socket activation, the handover): never passed on. */
const CONSUMED = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES', MANIFEST_ENV];

/**
 * The environment this process was started with, before `node --env-file`, dotenv or the app
 * added to it. On Linux it is what the kernel kept of the exec (`/proc/self/environ`), which no
 * later change touches; elsewhere, the environment when this module loaded, less the variables
 * the `--env-file` flags set. Either way without what node itself consumed at startup.
 */
const atStart: NodeJS.ProcessEnv = (() => {
  let execEnv: NodeJS.ProcessEnv;
  try {
    execEnv = parseEnviron(readFileSync('/proc/self/environ', 'latin1'));
  } catch {
    return withoutEnvFiles({ ...process.env }, process.execArgv);
  }
  // What node consumed before any code ran (NODE_CHANNEL_FD of a fork()'s IPC channel,
  // NODE_UNIQUE_ID of a cluster worker) is gone from process.env: it must not reach a child.
  for (const name of Object.keys(execEnv)) if (!(name in process.env)) delete execEnv[name];
  return execEnv;
})();

function parseEnviron(raw: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = Buffer.from(entry.slice(eq + 1), 'latin1').toString();
  }
  return env;
}

/** `env` less every variable an `--env-file` (or `--env-file-if-exists`) flag set to its value. */
function withoutEnvFiles(env: NodeJS.ProcessEnv, execArgv: string[]): NodeJS.ProcessEnv {
  for (const [i, arg] of execArgv.entries()) {
    const flag = /^--env-file(?:-if-exists)?(?:=(.*))?$/.exec(arg);
    const file = flag ? (flag[1] ?? execArgv[i + 1]) : undefined;
    if (!file) continue;
    try {
      for (const [name, value] of Object.entries(parseEnv(readFileSync(file, 'utf8')))) {
        if (env[name] === value) delete env[name];
      }
    } catch {
      // An optional env file that is missing set nothing.
    }
  }
  return env;
}

/**
 * The next generation's environment: the one this service was started with (so that env
 * files are read afresh, and edited values take effect), with `extra` set on top (`undefined`
 * removes a variable).
 */
export function startEnvironment(
  extra: Record<string, string | undefined> = {},
): NodeJS.ProcessEnv {
  const env = { ...atStart };
  for (const name of CONSUMED) delete env[name];
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}
