import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/**
 * Why a direct-mode restart would end the whole service here, or undefined when it would not.
 * A direct restart leaves the new generation running after this process exits, which fails
 * when this process's exit takes everything with it:
 * - PID 1 of a pid namespace (Docker's `CMD ["node", "server.js"]` without `--init`): when it
 *   exits, the kernel kills every process in the namespace, the new generation included;
 * - a package manager's script (`npm start`, `pnpm start`, `yarn start`) without systemd
 *   tracking the new main pid: the package manager exits when its child does, and the container
 *   or `Type=simple` unit ends with it.
 */
export function directRestartHazard(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (process.pid === 1) {
    return (
      'this process is PID 1 of its pid namespace (e.g. Docker\'s CMD ["node", ...] without --init): ' +
      'when it exits after the handover, the kernel ends the whole namespace, the new generation included'
    );
  }
  const script = env['npm_lifecycle_event'];
  if (script && !env['NOTIFY_SOCKET']) {
    const manager = packageManagerAncestor();
    if (manager) {
      return (
        `this process runs as the "${script}" script of ${manager}, which exits when this process ` +
        'does: the container or service unit would end at the first handover'
      );
    }
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
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}
