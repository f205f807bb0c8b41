// The restart strategies compared, each running servers/app.mjs on the same port and load.
// launch(port) resolves once it serves; restart(oldPid) starts one restart (the harness watches
// the probe for the new pid); pids() lists the processes whose memory counts; stop() ends them.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitForServing } from './probe.mjs';
import { endAll, exitOf, isAlive, start, treeOf } from './procs.mjs';

export const APP = new URL('../servers/app.mjs', import.meta.url).pathname;
export const APP_PM2 = new URL('../servers/app-pm2.cjs', import.meta.url).pathname;
const require = createRequire(import.meta.url);
/** The supervisor's command line, `graceful-restart`. */
export const CLI = require
  .resolve('@graceful-restart/core/package.json')
  .replace(/package\.json$/, 'dist/cli.js');
const run = promisify(execFile);

/** Why the pm2 rows are skipped, or undefined when pm2 (an optional dependency) installed. */
export const pm2Missing = (() => {
  try {
    require.resolve('pm2/package.json');
    return undefined;
  } catch {
    return 'pm2 is not installed (optional dependency)';
  }
})();

/** Runs the pm2 CLI with its own PM2_HOME and `env`. */
export const pm2In =
  (home, env) =>
  (...args) =>
    run(process.execPath, [require.resolve('pm2/bin/pm2'), ...args], {
      env: { ...process.env, PM2_HOME: home, ...env },
    });

const [major, minor] = process.versions.node.split('.').map(Number);
const hasReusePort = major > 22 || (major === 22 && minor >= 12);

/**
 * Processes of a strategy that spawns generations itself: every one seen, while alive. `served`,
 * `pids` and `stop` are the strategy handle's; it adds its own `restart`.
 */
function generations() {
  const seen = new Set();
  const pids = () => [...seen].filter(isAlive);
  return { served: (pid) => seen.add(pid), pids, stop: () => endAll(pids()) };
}

/**
 * A strategy whose one long-lived process (a supervisor, a cluster primary) replaces its workers
 * on SIGHUP: its process tree is what counts, and ending it ends everything.
 */
function reloadedOnHangup(root, cleanup = () => {}) {
  return {
    restart: async () => process.kill(root, 'SIGHUP'),
    served: () => undefined,
    pids: () => treeOf(root),
    stop: async () => {
      await endAll([root]);
      cleanup();
    },
  };
}

export const STRATEGIES = [
  {
    name: 'graceful',
    label: 'graceful-restart (SIGHUP, direct mode)',
    async launch(port) {
      const gens = generations();
      const first = start([APP], { MODE: 'graceful', PORT: String(port) });
      gens.served(first.child.pid);
      await waitForServing(port, () => true);
      return {
        ...gens,
        restart: async (oldPid) => process.kill(oldPid, 'SIGHUP'),
      };
    },
  },
  {
    name: 'supervisor',
    label: 'graceful-restart run (stable-PID supervisor)',
    async launch(port) {
      const dir = mkdtempSync(join(tmpdir(), 'gr-bench-'));
      const supervisor = start(
        [
          CLI,
          'run',
          '--listen',
          `web=127.0.0.1:${port}`,
          '--control',
          `${dir}/c.sock`,
          '--',
          process.execPath,
          APP,
        ],
        { MODE: 'graceful', PORT: String(port) },
      );
      await waitForServing(port, () => true);
      return reloadedOnHangup(supervisor.child.pid, () =>
        rmSync(dir, { recursive: true, force: true }),
      );
    },
  },
  {
    name: 'naive',
    label: 'naive stop-and-start (SIGTERM, wait for exit, start)',
    async launch(port) {
      const gens = generations();
      const spawnApp = () =>
        gens.served(start([APP], { MODE: 'plain', PORT: String(port) }).child.pid);
      spawnApp();
      await waitForServing(port, () => true);
      return {
        ...gens,
        restart: async (oldPid) => {
          process.kill(oldPid, 'SIGTERM');
          await exitOf(oldPid);
          spawnApp();
        },
      };
    },
  },
  {
    name: 'cluster',
    label: 'node:cluster worker replacement (pm2-reload style)',
    async launch(port) {
      const primary = start([APP], { MODE: 'cluster', PORT: String(port) });
      await waitForServing(port, () => true);
      return reloadedOnHangup(primary.child.pid);
    },
  },
  {
    name: 'reuseport',
    label: 'SO_REUSEPORT (start the new one, then SIGTERM the old)',
    skip: hasReusePort
      ? undefined
      : `needs Node >= 22.12 for listen({ reusePort }); this is ${process.version}`,
    async launch(port) {
      const gens = generations();
      const spawnApp = () => {
        const app = start([APP], { MODE: 'reuseport', PORT: String(port) });
        gens.served(app.child.pid);
        return app;
      };
      spawnApp();
      await waitForServing(port, () => true);
      return {
        ...gens,
        restart: async (oldPid) => {
          await spawnApp().waitFor((e) => e.event === 'listening');
          process.kill(oldPid, 'SIGTERM');
        },
      };
    },
  },
  {
    name: 'pm2',
    label: 'pm2 reload (cluster mode, 1 instance)',
    skip: pm2Missing,
    async launch(port) {
      const home = mkdtempSync(join(tmpdir(), 'gr-bench-pm2-'));
      const pm2 = pm2In(home, { MODE: 'plain', PORT: String(port) });
      await pm2('start', APP_PM2, '-i', '1', '--name', 'gr-bench', '--kill-timeout', '8000');
      await waitForServing(port, () => true);
      const daemon = Number(readFileSync(join(home, 'pm2.pid'), 'utf8'));
      return {
        restart: async () => {
          await pm2('reload', 'gr-bench');
        },
        served: () => undefined,
        pids: () => treeOf(daemon),
        stop: async () => {
          await pm2('kill').catch(() => undefined);
          await endAll(treeOf(daemon));
          rmSync(home, { recursive: true, force: true });
        },
      };
    },
  },
];
