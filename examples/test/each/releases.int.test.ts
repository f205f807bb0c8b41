// Each example deployed as people do it: a release directory swapped under a `current`
// symlink, and a release that crashes after ready rolled back. Real processes, loopback only.
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort, get, pidIn } from '../../../packages/core/test/helpers/http.js';
import { HttpLoad, stopAllOk } from '../../../packages/core/test/helpers/load.js';
import { Fixture, poll, sleep, tempDir } from '../../../packages/core/test/helpers/process.js';
import { answerFileOf, cli, EXAMPLES, entryFileOf as entry, runArgs } from '../examples.js';

const examples = new URL('../../', import.meta.url).pathname;

/**
 * What makes a release broken, appended to its entry file: it throws 800 ms after its first
 * request, so it is ready and serves before it crashes, whatever its start takes (a timer from
 * the module's start could fire before a slow start was over, beside other tests on 2 cores).
 */
const BROKEN = `
import('node:http').then(({ Server }) => {
  const emit = Server.prototype.emit;
  Server.prototype.emit = function (event, ...args) {
    if (event === 'request') {
      Server.prototype.emit = emit;
      setTimeout(() => { throw new Error('release is broken'); }, 800);
    }
    return emit.call(this, event, ...args);
  };
});
`;

/**
 * `root/releases/1`, `2`, ... one per entry of `kinds`, each a copy of the example (its
 * node_modules linked) with a config.json of its own, and `root/current` pointing at release 1.
 * From release 2 on the code differs too: its answer says "(release N code)". A `broken`
 * release throws 800 ms after its first request, as a bad deploy does.
 */
function releases(
  example: string,
  kinds: Array<'ok' | 'broken'> = ['ok', 'ok'],
): { root: string; current: string; swap: (n?: number) => void } {
  const root = tempDir('gr-rel-');
  for (const [i, kind] of kinds.entries()) {
    const n = i + 1;
    const dir = `${root}/releases/${n}`;
    mkdirSync(dir, { recursive: true });
    cpSync(`${examples}shared`, `${dir}/shared`, { recursive: true });
    // The example as built (nestjs: its dist/), without node_modules, which is linked.
    cpSync(`${examples}${example}`, `${dir}/${example}`, {
      recursive: true,
      filter: (path) => !path.includes('/node_modules'),
    });
    symlinkSync(`${examples}${example}/node_modules`, `${dir}/${example}/node_modules`);
    const answerFile = `${dir}/${example}/${answerFileOf(example)}`;
    const code = readFileSync(answerFile, 'utf8');
    if (n > 1) {
      const changed = code.replace('.greeting} from', `.greeting} (release ${n} code) from`);
      expect(changed).not.toBe(code);
      writeFileSync(answerFile, changed);
    }
    if (kind === 'broken') appendFileSync(`${dir}/${example}/${entry(example)}`, BROKEN);
    writeFileSync(`${dir}/config.json`, JSON.stringify({ greeting: `release-${n}` }));
  }
  const current = `${root}/current`;
  symlinkSync(`${root}/releases/1`, current);
  return {
    root,
    current,
    // As deploy tools do it: a new link renamed over the old one, atomically.
    swap: (n = 2) => {
      symlinkSync(`${root}/releases/${n}`, `${root}/current.new`);
      renameSync(`${root}/current.new`, current);
    },
  };
}

/** The pid that answers with `text` in its body, polled for up to 10 s. */
function servedWith(endpoint: { host: string; port: number }, text: string) {
  return poll(async () => {
    const { body } = await get(endpoint);
    return body.includes(text) ? pidIn(body) : undefined;
  }, 10_000);
}

/** `cd DIR && exec COMMAND`, as a shell (or a deploy script) starts a service: $PWD is DIR. */
const fromShell = (dir: string) => ['sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', dir];
/** As systemd's WorkingDirectory=DIR does it: the physical directory and no $PWD. */
const fromUnit = (dir: string) => [
  'sh',
  '-c',
  'cd -P "$1" && unset PWD && shift && exec "$@"',
  'sh',
  dir,
];

type Mode = 'shell' | 'explicit cwd' | 'supervisor' | 'supervisor --cwd';
const MODES: Mode[] = ['shell', 'explicit cwd', 'supervisor', 'supervisor --cwd'];

describe.each(EXAMPLES)('examples/%s from a release directory', (example) => {
  it.each(MODES)(
    'started from current/ (%s): after the swap, a restart runs the new release under keep-alive load with 0 failed requests',
    async (mode) => {
      const { root, current, swap } = releases(example);
      const port = await freePort();
      const endpoint = { host: '127.0.0.1', port };
      const supervised = mode.startsWith('supervisor');
      const control = `${root}/control.sock`;
      const launcher =
        mode === 'shell' || mode === 'supervisor' ? fromShell(current) : fromUnit(current);
      const run = supervised
        ? runArgs(port, control, mode === 'supervisor --cwd' ? ['--cwd', current] : [])
        : [];
      // The entry is named relative to the directory, as `node server.mjs` in current/ would be.
      const f = new Fixture(
        `${example}/${entry(example)}`,
        {
          PORT: String(port),
          CONFIG_FILE: 'config.json',
          ...(mode === 'explicit cwd' ? { GRACEFUL_RESTART_CWD: current } : {}),
        },
        process.execPath,
        [...launcher, ...run],
      );
      const first = await servedWith(endpoint, 'release-1 from');
      expect(first).toBeGreaterThan(0);
      f.pids.add(first as number);
      const load = new HttpLoad({ port, connections: 10, keepAlive: true });
      await sleep(200);
      swap();
      if (supervised) process.kill(f.first.pid as number, 'SIGHUP');
      else process.kill(first as number, 'SIGHUP');
      const next = await servedWith(endpoint, 'release-2 (release 2 code) from');
      expect(next, f.stderr.slice(-10).join('\n')).toBeGreaterThan(0);
      f.pids.add(next as number);
      expect(next).not.toBe(first);
      await sleep(300);
      await stopAllOk(load);
      // Every answer after the handover comes from release 2.
      for (let i = 0; i < 5; i++)
        expect((await get(endpoint)).body).toContain('release-2 (release 2');
      // fastify logs through pino on stdout; the others on stderr.
      const said = [...f.stderr, ...f.stdout].join('\n');
      if (supervised) {
        expect(said).toMatch(
          new RegExp(`reload: starting a worker to replace pid \\d+ in ${current}:`),
        );
      } else {
        // As typed, relative to current/: it names the new release's entry now.
        expect(said).toContain(
          `restart: starting the next generation in ${current}: node ${example}/${entry(example)}`,
        );
      }
    },
  );
});

/**
 * One GET on a new connection every 10 ms, as clients arriving one by one do; each answer or
 * error is kept with its start time.
 */
function arrivals(endpoint: { host: string; port: number }) {
  const samples: { at: number; pid?: number; error?: string }[] = [];
  const pending: Promise<void>[] = [];
  const timer = setInterval(() => {
    const at = performance.now();
    pending.push(
      get(endpoint).then(
        ({ body }) => void samples.push({ at, pid: pidIn(body) }),
        (error: NodeJS.ErrnoException) => void samples.push({ at, error: error.code ?? 'error' }),
      ),
    );
  }, 10);
  return {
    samples,
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      return samples.sort((a, b) => a.at - b.at);
    },
  };
}

describe.each(EXAMPLES)('examples/%s: a release that crashes after ready rolls back', (example) => {
  it.each(['direct', 'supervisor', 'supervisor --workers 2'])(
    '%s: the previous pid serves again within 1 s, only requests in flight in the crashing process may fail; a fixed release then deploys',
    async (mode) => {
      const { root, current, swap } = releases(example, ['ok', 'broken', 'ok']);
      const port = await freePort();
      const endpoint = { host: '127.0.0.1', port };
      const pidFile = `${root}/app.pid`;
      const control = `${root}/control.sock`;
      const supervised = mode.startsWith('supervisor');
      const workers = mode.endsWith('--workers 2') ? ['--workers', '2'] : [];
      const f = new Fixture(
        `${example}/${entry(example)}`,
        {
          PORT: String(port),
          CONFIG_FILE: 'config.json',
          ...(supervised ? {} : { PID_FILE: pidFile }),
        },
        process.execPath,
        [...fromShell(current), ...(supervised ? runArgs(port, control, workers) : [])],
      );
      const first = (await servedWith(endpoint, 'release-1 from')) as number;
      expect(first).toBeGreaterThan(0);
      f.pids.add(first);
      // With --workers 2, the whole set that served before serves again.
      // The first worker answers before the second is ready: wait for the whole set.
      const previous =
        workers.length > 0
          ? ((await poll(async () => {
              const pids = await servingPids(control);
              return pids.length === 2 ? pids : undefined;
            }, 10_000)) ?? [])
          : [first];
      expect(previous).toHaveLength(workers.length > 0 ? 2 : 1);
      const load = arrivals(endpoint);
      await sleep(300);
      swap(2);
      let reload: Promise<{ code: number; stdout: string; stderr: string }> | undefined;
      if (supervised) reload = cli(['reload', '--control', control]);
      else process.kill(first, 'SIGHUP');
      // The broken release serves, then dies 800 ms after its first request.
      const broken = (await servedWith(endpoint, '(release 2 code)')) as number;
      expect(broken, [...f.stderr, ...f.stdout].slice(-10).join('\n')).toBeGreaterThan(0);
      f.pids.add(broken);
      await poll(async () => (isGone(broken) ? true : undefined), 5000);
      const crashedAt = performance.now();
      await sleep(1500);
      const samples = await load.stop();
      // From 1 s after the crash on, every request is answered, by the previous pid.
      const late = samples.filter((s) => s.at > crashedAt + 1000);
      expect(late.length).toBeGreaterThan(20);
      expect(
        late.filter((s) => !previous.includes(s.pid as number)),
        `previous ${previous}, broken ${broken}`,
      ).toEqual([]);
      // Only a request in flight inside a crashing process may fail, and only by a reset.
      const failed = samples.filter((s) => s.error);
      expect(failed.length).toBeLessThanOrEqual(3 * previous.length);
      for (const s of failed) expect(s.error).toBe('ECONNRESET');
      const said = [...f.stderr, ...f.stdout].join('\n');
      expect(said).toMatch(/rollback: .*died \d+ ms after it was ready/);
      if (supervised) {
        const result = await (reload as Promise<{ code: number; stderr: string }>);
        expect(result.code).toBe(1);
        expect(result.stderr).toContain('ERR_GRACEFUL_ROLLED_BACK');
      } else {
        expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(first));
      }
      // A fixed release then deploys as usual.
      swap(3);
      if (supervised) expect((await cli(['reload', '--control', control])).code).toBe(0);
      else process.kill(first, 'SIGHUP');
      const fixed = await servedWith(endpoint, '(release 3 code)');
      expect(fixed).toBeGreaterThan(0);
      f.pids.add(fixed as number);
      if (!supervised) {
        await poll(
          async () => (readFileSync(pidFile, 'utf8').trim() === String(fixed) ? true : undefined),
          5000,
        );
      }
    },
  );
});

/** The pids a supervisor's workers serve with, from `graceful-restart status`. */
async function servingPids(control: string): Promise<number[]> {
  const { code, stdout, stderr } = await cli(['status', '--control', control]);
  expect(code, stderr).toBe(0);
  return (JSON.parse(stdout) as { servingPids: number[] }).servingPids;
}

/** Gone from /proc, or a zombie (this sandbox's PID 1 may not reap). */
function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
