import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { hasControllingTerminal } from './terminal.js';

/** Why restarts are refused in this process, and what to do instead. */
export interface RestartHazard {
  reason: string;
  fix: string;
}

const SUPERVISOR_FIX =
  'Run the app under the stable-PID supervisor instead: graceful-restart run --listen web=HOST:PORT -- node <entry> ' +
  '(in Docker also docker run --init, or an init such as tini).';

/**
 * Why a direct-mode restart would go wrong here, or undefined when it would not. A direct
 * restart leaves the new generation running after this process exits, which fails when:
 * - this is PID 1 of a pid namespace (Docker's `CMD ["node", "server.js"]` without `--init`):
 *   when it exits, the kernel kills every process in the namespace, the new generation included;
 * - a package manager's script runs it (`npm start`, `pnpm start`, `yarn start`) without
 *   systemd tracking the new main pid: the package manager exits when its child does, and the
 *   container or `Type=simple` unit ends with it;
 * - a file watcher runs it (`node --watch`, nodemon, tsx watch): the watcher restarts the app on
 *   every change, and a successor would escape it, holding the port the next start needs.
 */
export function directRestartHazard(
  env: NodeJS.ProcessEnv = process.env,
): RestartHazard | undefined {
  if (process.pid === 1) {
    return {
      reason:
        'this process is PID 1 of its pid namespace (e.g. Docker\'s CMD ["node", ...] without --init): ' +
        'when it exits after the handover, the kernel ends the whole namespace, the new generation included',
      fix: SUPERVISOR_FIX,
    };
  }
  if (leadsTerminalSession()) {
    return {
      reason:
        'this process leads its terminal session (started as `exec node ...` by script(1), or by `ssh -t host node ...`): ' +
        'when it exits after the handover, the session loses its terminal and the new generation would be left on a dead one',
      fix: 'Start it from an interactive shell (node then runs as a job of the shell), or run it under graceful-restart run.',
    };
  }
  const watcher = fileWatcher(env);
  if (watcher) {
    return {
      reason: `${watcher} runs this process and restarts it on file changes; a successor would escape it and hold the port its next start needs`,
      fix: 'In development the watcher restarts the app; restart signals are for deployments (run it without the watcher there).',
    };
  }
  const script = env['npm_lifecycle_event'];
  if (script && !env['NOTIFY_SOCKET']) {
    const manager = packageManagerAncestor();
    if (manager) {
      return {
        reason:
          `this process runs as the "${script}" script of ${manager}, which exits when this process ` +
          'does: the container or service unit would end at the first handover',
        fix: SUPERVISOR_FIX,
      };
    }
  }
  return undefined;
}

const WATCHERS = /^(nodemon|node-dev|ts-node-dev|tsnd|tsx|supervisor)(\.c?js)?$/;

/**
 * The file watcher that runs this process, if one does: `node --watch` (it marks its child
 * with WATCH_REPORT_DEPENDENCIES), or nodemon and its kin among the two nearest ancestors
 * (nodemon starts the app through `sh -c`).
 */
function fileWatcher(env: NodeJS.ProcessEnv): string | undefined {
  if (env['WATCH_REPORT_DEPENDENCIES']) return 'node --watch';
  let pid = process.ppid;
  for (let hops = 0; hops < 2 && pid > 1; hops++) {
    const argv = procArgv(pid);
    if (argv === undefined) return undefined;
    const names = argv.slice(0, 2).map((arg) => basename(arg));
    const watcher = names.find((name) => WATCHERS.test(name));
    if (watcher && (watcher !== 'tsx' || argv.includes('watch'))) {
      return watcher.replace(/\.c?js$/, '') + (watcher === 'tsx' ? ' watch' : '');
    }
    pid = parentOf(pid);
  }
  return undefined;
}

const PACKAGE_MANAGERS = /^(npm|npx|pnpm|pnpx|yarn|bun)(\.c?js)?$/;

/** The package manager that started this process (through at most one shell), if one did. */
function packageManagerAncestor(): string | undefined {
  let pid = process.ppid;
  for (let hops = 0; hops < 2 && pid > 1; hops++) {
    const argv = procArgv(pid);
    if (argv === undefined) return undefined;
    const names = argv.slice(0, 2).map((arg) => basename(arg.split(' ')[0] ?? ''));
    const manager = names.find((name) => PACKAGE_MANAGERS.test(name));
    if (manager) return manager.replace(/\.c?js$/, '');
    // npm runs a script through `sh -c`; anything else is not a package manager's script.
    if (!['sh', 'bash', 'dash'].includes(names[0] ?? '')) return undefined;
    pid = parentOf(pid);
  }
  return undefined;
}

function procArgv(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number {
  return statField(pid, 1) ?? 0;
}

/**
 * True when this process leads a session that has a terminal (`script -c "exec node app.js"`,
 * `ssh -t host node app.js`): when it exits, the kernel takes the terminal from the session
 * (and ssh ends it), so a next generation started by it would be left on a dead terminal.
 */
function leadsTerminalSession(): boolean {
  return statField('self', 3) === process.pid && hasControllingTerminal();
}

/** A numeric field of /proc/PID/stat after the command name (1: parent pid, 3: session). */
function statField(pid: number | 'self', index: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[index]);
  } catch {
    return undefined;
  }
}
