// The stable-PID supervisor (`graceful-restart run`) driving an app: launch, status, the CLI,
// and what /proc says about its workers.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { sendControl } from '../../src/supervisor/control.js';
import type { SupervisorStatus } from '../../src/supervisor/control-protocol.js';
import { type Endpoint, freePort, get, pidIn } from './http.js';
import { Fixture, poll, tempDir, waitUntil } from './process.js';

/** Starts `node script` under `launcher...` as a Fixture (the examples' keeps it for endAll). */
export type Launch = (
  script: string,
  env: Record<string, string>,
  launcher: string[],
  spawnOptions: { detached?: boolean },
) => Fixture;

const plainFixture: Launch = (script, env, launcher, spawnOptions) =>
  new Fixture(script, env, process.execPath, launcher, spawnOptions);

/** The built `graceful-restart` command. */
export const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

/** Runs `graceful-restart <args>`; resolves with its exit code and output. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** `node graceful-restart run --listen web=127.0.0.1:PORT --control C [extra] --`, to prefix a command. */
export function runArgs(port: number, control: string, extra: string[] = []): string[] {
  return [
    process.execPath,
    CLI,
    'run',
    '--listen',
    `web=127.0.0.1:${port}`,
    '--control',
    control,
    ...extra,
    '--',
  ];
}

/** Parent pid and state of `pid` from /proc, or undefined once it is gone (reaped). */
export function procStat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] as string, ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

/** The children of `pid` (host pids), with their states. */
export function childrenOf(pid: number): { pid: number; state: string }[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      const stat = procStat(Number(entry));
      return stat?.ppid === pid ? [{ pid: Number(entry), state: stat.state }] : [];
    });
}

export interface Supervised {
  f: Fixture;
  endpoint: Endpoint;
  control: string;
  pidFile: string;
  dir: string;
  /** The supervisor's pid, as the host sees it. */
  supervisorPid: number;
}

/**
 * `graceful-restart run --listen web=127.0.0.1:PORT --control C --pid-file P [args] -- node
 * <script>`, resolved once every worker answers. `prefix` runs it under a launcher (unshare,
 * systemd-socket-activate); `launch` starts the Fixture (default: a plain one).
 */
export async function supervise(
  script: string,
  options: {
    launch?: Launch;
    env?: Record<string, string>;
    args?: string[];
    prefix?: string[];
    listen?: string;
    port?: number;
    /** In a session and process group of its own, as systemd starts a service. */
    detached?: boolean;
  } = {},
): Promise<Supervised> {
  const dir = tempDir('gr-sup-');
  const port = options.port ?? (await freePort());
  const control = `${dir}/control.sock`;
  const pidFile = `${dir}/supervisor.pid`;
  const listen = options.listen ?? `web=127.0.0.1:${port}`;
  const launch = options.launch ?? plainFixture;
  const f = launch(
    script,
    options.env ?? {},
    [
      ...(options.prefix ?? []),
      process.execPath,
      CLI,
      'run',
      ...(listen ? ['--listen', listen] : []),
      '--control',
      control,
      '--pid-file',
      pidFile,
      ...(options.args ?? []),
      '--',
    ],
    { detached: options.detached ?? false },
  );
  const endpoint = listen.includes('unix:')
    ? { socketPath: listen.slice(listen.indexOf('unix:') + 5).split(',')[0] as string }
    : { host: '127.0.0.1', port };
  await poll(async () => pidIn((await get(endpoint)).body) || undefined, 10_000);
  await waitUntil(() => existsSync(pidFile), 5000);
  const supervisorPid = Number(readFileSync(pidFile, 'utf8'));
  const supervised = { f, endpoint, control, pidFile, dir, supervisorPid };
  // With --workers N, the first worker answers before the others are ready: wait for the set.
  const complete = await poll(async () => {
    const now = await statusNow(supervised);
    return now.servingPids.length === now.workerCount ? true : undefined;
  }, 10_000);
  expect(complete, 'every worker slot serves').toBe(true);
  return supervised;
}

/** A status taken while a worker serves (the tests ask only then). */
export type Status = Omit<SupervisorStatus, 'servingPid'> & { servingPid: number };

/** `graceful-restart status`, through the CLI. */
export async function status(s: Supervised): Promise<Status> {
  const { code, stdout, stderr } = await cli(['status', '--control', s.control]);
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout) as Status;
}

/** The same status straight from the control socket: cheap enough to poll under load. */
async function statusNow(s: Supervised): Promise<Status> {
  const reply = await sendControl(s.control, 'status');
  if (!reply.ok || !reply.status) throw new Error(`status failed: ${JSON.stringify(reply)}`);
  return reply.status as Status;
}

/** The serving worker once it is another than `previous`; fails the test after 10 s. */
export async function nextServing(s: Supervised, previous: number): Promise<number> {
  const next = await poll(async () => {
    const now = (await statusNow(s)).servingPid;
    return now && now !== previous ? now : undefined;
  }, 10_000);
  if (next === undefined) throw new Error(`pid ${previous} still serves after 10 s`);
  return next;
}

/** The serving set once none of `previous` is in it any more; fails the test after 10 s. */
export async function nextServingSet(s: Supervised, previous: number[]): Promise<number[]> {
  const next = await poll(async () => {
    const now = await statusNow(s);
    return now.servingPids.length === now.workerCount &&
      now.servingPids.every((pid) => !previous.includes(pid))
      ? now.servingPids
      : undefined;
  }, 10_000);
  if (next === undefined) throw new Error(`pids ${previous.join(', ')} still serve after 10 s`);
  return next;
}

/**
 * Requests on fresh connections until every pid in `pids` has answered one: each worker of a set
 * accepts on the shared listener. Fails the test after 5 s.
 */
export async function everyWorkerAnswers(endpoint: Endpoint, pids: number[]): Promise<void> {
  const missing = new Set(pids);
  await poll(async () => {
    missing.delete(pidIn((await get(endpoint)).body));
    return missing.size === 0 ? true : undefined;
  }, 5000);
  expect([...missing], 'workers that never answered').toEqual([]);
}
