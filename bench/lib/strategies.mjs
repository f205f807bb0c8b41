// The restart strategies compared, each running servers/app.mjs on the same port and load.
// launch(port) resolves once it serves; restart(oldPid) starts one restart (the harness watches
// the probe for the new pid); pids() lists the processes whose memory counts; stop() ends them.
import { execFile, spawnSync } from 'node:child_process';
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
/** Why the Go anchor row cannot run here, or undefined: it needs `go` (Debian's golang-go). */
const goMissing =
  spawnSync('go', ['version']).status === 0
    ? undefined
    : 'needs the go toolchain (apt-get install golang-go) to build servers/seed-go';

let seedGoBinary;
/** servers/seed-go built once per run, into a temporary directory. */
function buildSeedGo() {
  if (seedGoBinary) return seedGoBinary;
  const dir = mkdtempSync(join(tmpdir(), 'gr-bench-go-'));
  const source = new URL('../servers/seed-go/main.go', import.meta.url).pathname;
  const out = join(dir, 'seed-go');
  const built = spawnSync('go', ['build', '-o', out, source], {
    encoding: 'utf8',
    env: { ...process.env, GOCACHE: join(dir, 'cache'), GO111MODULE: 'off' },
  });
  if (built.status !== 0) throw new Error(`go build failed: ${built.stderr}`);
  seedGoBinary = out;
  return out;
}

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

/** The app in graceful mode (direct): each SIGHUP starts the next generation. */
async function launchGraceful(port, env) {
  const gens = generations();
  const first = start([APP], { MODE: 'graceful', PORT: String(port), ...env });
  gens.served(first.child.pid);
  await waitForServing(port, () => true);
  return { ...gens, restart: async (oldPid) => process.kill(oldPid, 'SIGHUP') };
}

export const STRATEGIES = [
  {
    name: 'graceful',
    label: 'graceful-restart (SIGHUP, direct mode)',
    launch: (port, env = {}) => launchGraceful(port, env),
  },
  {
    name: 'graceful-unpaced',
    label: 'graceful-restart, drain.paceMs 0 (every connection told to close at once)',
    launch: (port) => launchGraceful(port, { PACE_MS: '0' }),
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
    name: 'go-seed',
    label: "the seeds' Go program (fd to a forked child, then http.Server.Shutdown; SIGUSR2)",
    skip: goMissing,
    async launch(port) {
      const binary = buildSeedGo();
      const gens = generations();
      const first = start([], { PORT: String(port) }, { execPath: binary });
      gens.served(first.child.pid);
      await waitForServing(port, () => true);
      return {
        ...gens,
        // The new process is the old one's child: its pid is known once it answers.
        restart: async (oldPid) => process.kill(oldPid, 'SIGUSR2'),
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
