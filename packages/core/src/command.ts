import { readFileSync, realpathSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { startEnvironment } from './environment.js';

/** The command that starts the next generation. */
export interface SuccessorCommand {
  /** Default: `process.execPath`. */
  execPath: string;
  /**
   * Default: `[...process.execArgv, ...process.argv.slice(1)]`, the entry resolved through
   * `cwd`, and spelt as the command line gave it (`app.js`, not `/srv/app/app.js`) when that
   * names the same file.
   */
  args: string[];
  /**
   * What the process's command line shows as its first word (`ps`, `pgrep -f "node app.js"`).
   * Default (for this process's own command): the word this process was started with.
   */
  argv0?: string;
  /** Default: the `cwd` option, else the directory the service was started from (see nextDirectory()). */
  cwd?: string;
  /**
   * Default: the environment the service was started with (not what `--env-file`, dotenv or the
   * app added to it), with the `env` option on top.
   */
  env?: NodeJS.ProcessEnv;
}

/** Names the default of the `cwd` option (and `graceful-restart run --cwd`), e.g. in a systemd unit. */
export const CWD_ENV = 'GRACEFUL_RESTART_CWD';

/** The physical directory this process started in (before the app could chdir). */
const physicalStart = process.cwd();

/**
 * The directory the service was started from, as its operator named it: `$PWD` when it named
 * the same directory as the physical working directory through a symlink (a release
 * directory's `current`, swapped at every deploy), else the physical directory. Decided once,
 * at startup: after a swap `$PWD` names another directory, which is the point. A shell sets
 * `$PWD`; systemd's WorkingDirectory= does not: there, set the `cwd` option or GRACEFUL_RESTART_CWD.
 */
const logicalStart = ((): string => {
  const pwd = process.env['PWD'];
  if (!pwd || !isAbsolute(pwd) || pwd === physicalStart) return physicalStart;
  try {
    return realpathSync(pwd) === physicalStart ? pwd : physicalStart;
  } catch {
    return physicalStart;
  }
})();

/** The directory the next generation starts in: `cwd` (or GRACEFUL_RESTART_CWD), else the logical start directory. */
export function nextDirectory(cwd?: string, env: NodeJS.ProcessEnv = process.env): string {
  const explicit = cwd ?? env[CWD_ENV];
  return explicit ? resolve(explicit) : logicalStart;
}

/**
 * This process's command line again, to start in `dir` (default nextDirectory()). An entry
 * script inside the directory this process started in is named through `dir`, so that the next
 * generation runs the release `dir` points to now, not the one this process runs.
 */
export function currentCommand(
  dir: string = nextDirectory(),
  extraEnv?: Record<string, string | undefined>,
): SuccessorCommand {
  const [entry, ...rest] = process.argv.slice(1);
  const args = [...process.execArgv];
  if (entry !== undefined) {
    const resolved = throughDirectory(entry, dir);
    // As the operator typed it, so that `pgrep -f "node app.js"` keeps matching.
    const typed = asTyped.entry;
    args.push(typed !== undefined && resolve(dir, typed) === resolved ? typed : resolved, ...rest);
  }
  // $PWD tells the next generation, in turn, which logical directory it was started from.
  return {
    execPath: process.execPath,
    ...(asTyped.argv0 === undefined ? {} : { argv0: asTyped.argv0 }),
    args,
    cwd: dir,
    env: { ...startEnvironment(extraEnv), PWD: dir },
  };
}

/**
 * This process's command line as it was typed (`node app.js`), from /proc/self/cmdline: node
 * resolves its own path and the entry's (`/usr/bin/node /srv/app/app.js`). Empty where there is
 * no /proc, or when the line does not line up with node's view of it.
 */
const asTyped = ((): { argv0?: string | undefined; entry?: string | undefined } => {
  let words: string[];
  try {
    words = readFileSync('/proc/self/cmdline', 'utf8').split('\0').slice(0, -1);
  } catch {
    return {};
  }
  const flags = process.execArgv;
  const lined =
    words.length === process.argv.length + flags.length &&
    flags.every((flag, i) => words[i + 1] === flag);
  if (!lined) return {};
  return { argv0: words[0], entry: process.argv.length > 1 ? words[1 + flags.length] : undefined };
})();

function throughDirectory(file: string, dir: string): string {
  if (!isAbsolute(file) || !file.startsWith(physicalStart + sep)) return file;
  return join(dir, relative(physicalStart, file));
}

/** How a command reads in a log line: `node /srv/app/current/server.mjs`. */
export function describeCommand(execPath: string, args: string[]): string {
  return [basename(execPath), ...args].join(' ');
}
