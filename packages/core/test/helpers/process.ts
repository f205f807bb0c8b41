import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createInterface } from 'node:readline';
import { afterAll, afterEach } from 'vitest';
import { get, pidIn } from './http.js';

/** One JSON line a fixture prints on stdout (every generation shares the pipe). */
export interface FixtureEvent {
  event: string;
  pid: number;
  [key: string]: unknown;
}

/** Fixtures started by the running test: every one is ended after it. */
const running: Fixture[] = [];
afterEach(async () => {
  for (const fixture of running.splice(0)) await fixture.kill();
});

/**
 * A fixture server and all its generations. Generations inherit the same stdout pipe, so the
 * test sees every generation's events. Only processes that reported their pid are ever signalled,
 * and all of them are ended after the test that started them.
 */
export class Fixture {
  readonly events: FixtureEvent[] = [];
  readonly pids = new Set<number>();
  readonly stderr: string[] = [];
  /** Every stdout line of every generation, JSON or not (logs included). */
  readonly stdout: string[] = [];
  private waiters: Array<{
    match: (e: FixtureEvent) => boolean;
    resolve: (e: FixtureEvent) => void;
  }> = [];
  readonly first: ChildProcess;

  /**
   * Starts `node script`; with `launcher` (e.g. ['systemd-socket-activate', '-l', ...]) starts
   * `launcher... node script`, for launchers that exec the command in their own process.
   */
  constructor(
    script: string,
    env: NodeJS.ProcessEnv = {},
    execPath = process.execPath,
    launcher: string[] = [],
    /**
     * `detached`: in a session and process group of its own (as systemd starts a service);
     * `nodeArgs`: node's own flags, before the script (`--env-file=...`, `--watch`); `cwd`.
     */
    spawnOptions: { detached?: boolean; nodeArgs?: string[]; cwd?: string } = {},
  ) {
    const { nodeArgs = [], ...options } = spawnOptions;
    const [file, ...args] = [...launcher, execPath, ...nodeArgs, script];
    this.first = spawn(file as string, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options,
    });
    createInterface({ input: this.first.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      this.stdout.push(line);
      let event: FixtureEvent;
      try {
        event = JSON.parse(line) as FixtureEvent;
      } catch {
        return;
      }
      this.events.push(event);
      this.pids.add(event.pid);
      for (const waiter of [...this.waiters]) {
        if (waiter.match(event)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    });
    createInterface({ input: this.first.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      this.stderr.push(line);
      if (process.env['FIXTURE_DEBUG']) process.stderr.write(`${line}\n`);
    });
    if (this.first.pid) this.pids.add(this.first.pid);
    running.push(this);
  }

  /** Resolves with the first event (past or future) that matches. */
  waitFor(
    match: (e: FixtureEvent) => boolean,
    timeoutMs = 15_000,
    fromIndex = 0,
  ): Promise<FixtureEvent> {
    const seen = this.events.slice(fromIndex).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `no matching fixture event within ${timeoutMs} ms; last events:\n` +
              `${this.events
                .slice(-8)
                .map((e) => JSON.stringify(e))
                .join('\n')}\nstderr:\n` +
              this.stderr.slice(-20).join('\n'),
          ),
        );
      }, timeoutMs);
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /** Ready event of a generation other than `notPid`, after event index `fromIndex`. */
  nextReady(notPid: number, fromIndex: number, timeoutMs?: number): Promise<FixtureEvent> {
    return this.waitFor((e) => e.event === 'ready' && e.pid !== notPid, timeoutMs, fromIndex);
  }

  /**
   * SIGHUP to `pid`; resolves with the next generation's ready event once `pid` has also begun
   * to drain (its "restart" event), so that what a test does next meets a draining `pid`.
   */
  async restart(pid: number): Promise<FixtureEvent> {
    const from = this.events.length;
    process.kill(pid, 'SIGHUP');
    const [next] = await Promise.all([
      this.nextReady(pid, from),
      this.waitFor((e) => e.event === 'restart' && e.pid === pid, 15_000, from),
    ]);
    return next;
  }

  /**
   * Ends every process this fixture started that is still alive: the generations it saw, and
   * their descendants (a successor the test never heard from, started just before it failed).
   */
  async kill(): Promise<void> {
    for (const pid of withDescendants(this.pids)) this.pids.add(pid);
    for (const pid of this.pids)
      if (isAlive(pid))
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
    await waitUntil(() => [...this.pids].every((pid) => !isAlive(pid)), 5000);
  }
}

/** Child pids by parent pid, from /proc. */
function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  return children;
}

/** `roots` and every live process below them, from the parent pids in /proc. */
function withDescendants(roots: Iterable<number>): Set<number> {
  const children = childrenByParent();
  const found = new Set(roots);
  for (const pid of found) for (const child of children.get(pid) ?? []) found.add(child);
  return found;
}

/** Process state from /proc; a zombie (Z) has exited: PID 1 here does not reap orphans. */
export function isAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** The children of `pid` that have not exited. */
export function liveChildren(pid: number): number[] {
  return (childrenByParent().get(pid) ?? []).filter(isAlive);
}

export function openFds(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`);
}

/**
 * How many sockets `pid` has more than one fd of: its listeners while it holds their rollback
 * duplicates (a duplicate passed back by the helper is the same socket, so the same inode).
 */
export function socketsHeldTwice(pid: number): number {
  const fdsPerSocket = new Map<string, number>();
  for (const fd of openFds(pid)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (target.startsWith('socket:')) fdsPerSocket.set(target, (fdsPerSocket.get(target) ?? 0) + 1);
  }
  return [...fdsPerSocket.values()].filter((n) => n > 1).length;
}

export async function waitUntil(
  check: () => boolean,
  timeoutMs: number,
  stepMs = 20,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}

export function waitForExit(
  child: ChildProcess,
  timeoutMs = 15_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`pid ${child.pid} did not exit within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const tempDirs: string[] = [];
/**
 * A new directory under /tmp (a short path: Unix socket paths are limited to about 100 bytes),
 * removed with its contents once the test file is done.
 */
export function tempDir(prefix = 'gr-'): string {
  const dir = mkdtempSync(`/tmp/${prefix}`);
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * An entry that runs `script`; once `arm(mode)` is called, later generations start with
 * FIXTURE_FAIL=mode (see fixtures/server.mjs). Each generation prints a "started" event first.
 */
export function failingSuccessorEntry(script: string) {
  const dir = tempDir();
  const flag = `${dir}/armed`;
  const entry = `${dir}/entry.mjs`;
  writeFileSync(
    entry,
    `import { existsSync, readFileSync } from 'node:fs';
if (existsSync(${JSON.stringify(flag)})) process.env.FIXTURE_FAIL = readFileSync(${JSON.stringify(flag)}, 'utf8');
process.stdout.write(JSON.stringify({ event: 'started', pid: process.pid }) + '\\n');
await import(${JSON.stringify(script)});
`,
  );
  return { entry, arm: (mode: string) => writeFileSync(flag, mode) };
}

/** Calls `probe` until it resolves with a value (rejections count as no value yet). */
/**
 * The pid that answers at `endpoint` once it is another than `pid` (the restart's successor),
 * added to `f`'s pids to end; throws, with `f`'s stderr, when none does within 10 s.
 */
export async function nextPid(
  endpoint: { host: string; port: number },
  pid: number,
  f: Fixture,
): Promise<number> {
  const next = await poll(async () => {
    const served = pidIn((await get(endpoint)).body);
    return served && served !== pid ? served : undefined;
  }, 10_000);
  if (!next) throw new Error(`pid ${pid} still serves:\n${f.stderr.join('\n')}`);
  f.pids.add(next);
  return next;
}

export async function poll<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  stepMs = 30,
): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined || Date.now() >= end) return value;
    await sleep(stepMs);
  }
}

/**
 * The listen queue length (backlog) of the socket listening on `port` or Unix `path`, as
 * `ss -l` shows it (Send-Q of a listening socket). Undefined when nothing listens there.
 */
export function listenBacklog(where: { port: number } | { path: string }): number | undefined {
  if ('port' in where) return listeningColumn(where.port, 2);
  const rows = ssRows(['-lxH']);
  // A Unix socket is bound at a temporary name and renamed into place: the kernel (and ss)
  // knows it by the name it was bound at, `.gr-XXXXXX/s` (a private directory) beside the path.
  const temp = `${where.path.slice(0, where.path.lastIndexOf('/'))}/.gr-`;
  const row = rows.find(
    (cols) => cols[4] === where.path || (cols[4]?.startsWith(temp) && cols[4].endsWith('/s')),
  );
  return row?.[3] === undefined ? undefined : Number(row[3]);
}

/** `ss ARGS`, one array of columns per row. */
function ssRows(args: string[]): string[][] {
  const out = spawnSync('ss', args, { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`ss ${args.join(' ')} failed: ${out.stderr}`);
  return out.stdout
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/));
}

/** Column `column` of the TCP socket listening on `port` in `ss -ltn`, as a number. */
function listeningColumn(port: number, column: number): number | undefined {
  const value = ssRows(['-ltnH', `sport = :${port}`])[0]?.[column];
  return value === undefined || value === '' ? undefined : Number(value);
}

/**
 * How many connections wait in the accept queue of the TCP socket listening on `port` (Recv-Q
 * of a listening socket in `ss -l`): handshaken by the kernel, not yet accepted by the server.
 */
export function acceptQueue(port: number): number | undefined {
  return listeningColumn(port, 1);
}

/**
 * The backlog `ss` shows for a listener that asked for `asked` (undefined: none, so the
 * library's default of net.core.somaxconn, at least 1024): the kernel caps it at somaxconn.
 */
export function shownBacklog(asked?: number): number {
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
  return Math.min(asked ?? Math.min(Math.max(somaxconn, 1024), 65_535), somaxconn);
}
