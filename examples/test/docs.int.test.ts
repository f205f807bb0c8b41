// Every code block of README.md, packages/*/README.md and docs/*.md, as a user would take it,
// against the packed packages installed from their tarballs into a new project: programs run
// (a server is started, restarted with SIGHUP and stopped with SIGTERM, exiting 0 each time),
// shell commands run line by line, fragments are typechecked, unit files pass
// `graceful-restart doctor`. A block that cannot run here says why in the doc itself.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, get } from '../../packages/core/test/helpers/http.js';
import { isAlive, poll, tempDir, waitUntil } from '../../packages/core/test/helpers/process.js';
import { type Snippet, shellLines, snippetsOf, withPort } from './snippets.js';

const root = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
const DOCS = [
  'README.md',
  ...['core', 'fastify', 'express', 'koa', 'hono'].map((p) => `packages/${p}/README.md`),
  ...readdirSync(`${root}/docs`)
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const snippets = DOCS.flatMap((doc) => snippetsOf(root, doc));

/** The versions the workspace tests with, for what the fragments and programs import. */
function workspaceVersion(name: string): string {
  for (const manifest of [
    'package.json',
    'packages/fastify/package.json',
    'packages/express/package.json',
    'packages/koa/package.json',
    'packages/hono/package.json',
    'examples/nestjs/package.json',
    'examples/express/package.json',
    'examples/http/package.json',
  ]) {
    const pkg = JSON.parse(readFileSync(`${root}/${manifest}`, 'utf8'));
    const found = pkg.devDependencies?.[name] ?? pkg.dependencies?.[name];
    if (found && /^\d/.test(found)) return `${name}@${found}`;
  }
  throw new Error(`no pinned version of ${name} in the workspace`);
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: options.env ?? userEnv, timeout: options.timeoutMs ?? 120_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

let project = '';
let tarballs = new Map<string, string>();
/** The environment of a user's shell: nothing of the test runner's (npm_*, vitest's). */
let userEnv: NodeJS.ProcessEnv = {};
const started: ChildProcess[] = [];

beforeAll(async () => {
  const work = tempDir('gr-docs-');
  project = join(work, 'project');
  const packs = join(work, 'packs');
  mkdirSync(project);
  mkdirSync(packs);
  const pnpm = join(root, 'node_modules/.bin/pnpm');
  for (const pkg of ['core', 'fastify', 'express', 'koa', 'hono']) {
    const packed = await run(pnpm, ['pack', '--pack-destination', packs], {
      cwd: join(root, 'packages', pkg),
      env: process.env,
    });
    expect(packed.code, packed.out).toBe(0);
  }
  tarballs = new Map(
    readdirSync(packs).map((f) => [
      `@graceful-restart/${/^graceful-restart-(\w+)-/.exec(f)?.[1]}`,
      join(packs, f),
    ]),
  );
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      !/^(npm_|INIT_CWD|VITEST|GRACEFUL_RESTART_|LISTEN_|NOTIFY_SOCKET|NODE_OPTIONS|TEST)/.test(key)
    ) {
      env[key] = value;
    }
  }
  const runtime = join(work, 'run');
  mkdirSync(runtime, { mode: 0o700 });
  userEnv = {
    ...env,
    PATH: `${join(project, 'node_modules/.bin')}:${process.execPath.replace(/\/node$/, '')}:${env['PATH']}`,
    XDG_RUNTIME_DIR: runtime,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'docs-snippets', private: true, type: 'module' }),
  );
  const installed = await run(
    'npm',
    [
      'install',
      '--loglevel=error',
      ...tarballs.values(),
      ...[
        'fastify',
        'express',
        'koa',
        'hono',
        '@hono/node-server',
        'prom-client',
        '@nestjs/core',
        '@nestjs/common',
        '@nestjs/platform-express',
        'reflect-metadata',
        'rxjs',
        'typescript',
        '@types/node',
        '@types/express',
        '@types/koa',
      ].map(workspaceVersion),
    ],
    { cwd: project, timeoutMs: 300_000 },
  );
  expect(installed.code, installed.out).toBe(0);
}, 360_000);

afterAll(async () => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      process.kill(child.pid, 'SIGKILL');
    }
  }
});

/** A directory of the project for one doc's files, with server.mjs from core's README. */
function docDir(doc: string): string {
  const dir = join(project, doc.replace(/[/.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  const usage = snippets.find(
    (s) => s.doc === 'packages/core/README.md' && s.file === 'server.mjs',
  );
  if (usage) writeFileSync(join(dir, 'server.mjs'), usage.text);
  return dir;
}

const where = (s: Snippet) => `${s.doc}:${s.line}`;

function exited(child: ChildProcess, timeoutMs: number): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still running'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal ?? 'unknown');
    });
  });
}

function start(command: string, dir: string): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn('bash', ['-c', `exec ${command}`], { cwd: dir, env: userEnv });
  started.push(child);
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  return { child, output: () => output };
}

const answers = (port: number) =>
  poll(async () => (await get({ host: '127.0.0.1', port })).status, 30_000);
const readPid = (file: string) => (existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0);

/** A server program: it serves, a SIGHUP hands over (the old process exits 0), a SIGTERM stops it. */
async function serveCycle(s: Snippet, dir: string, port: number): Promise<void> {
  const { child, output } = start(`node ${s.file}`, dir);
  expect(await answers(port), `${where(s)} never answered:\n${output()}`).toBeDefined();
  const pidFile = join(dir, 'app.pid');
  const first = readPid(pidFile) || (child.pid as number);
  process.kill(first, 'SIGHUP');
  expect(await exited(child, 30_000), `${where(s)}: after SIGHUP\n${output()}`).toBe(0);
  expect(await answers(port), `${where(s)}: nothing serves after the restart\n${output()}`).toBe(
    200,
  );
  const next = readPid(pidFile);
  expect(next, `${where(s)}: the PID file names the new process`).not.toBe(first);
  expect(isAlive(next)).toBe(true);
  process.kill(next, 'SIGTERM');
  expect(await waitUntil(() => !isAlive(next), 30_000), `${where(s)}: still running`).toBe(true);
  expect(existsSync(pidFile), `${where(s)}: a clean stop removes the PID file\n${output()}`).toBe(
    false,
  );
}

/** Shell lines as a user types them, one after the other, each waited for. */
async function shellSession(blocks: Snippet[], dir: string, port: number): Promise<void> {
  const background: { child: ChildProcess; output: () => string; line: string }[] = [];
  for (const s of blocks) {
    for (const raw of shellLines(withPort(s.text, port))) {
      const line = raw.replace(
        /^npm install (.*)$/,
        (_, names: string) =>
          `npm install --loglevel=error ${names
            .split(/\s+/)
            .map((n) => tarballs.get(n) ?? n)
            .join(' ')}`,
      );
      const label = `${where(s)}: ${raw}`;
      const longRunning = /&$/.test(line) || /^(npx )?graceful-restart run /.test(line);
      if (longRunning) {
        const handle = start(line.replace(/\s*&$/, ''), dir);
        background.push({ ...handle, line: raw });
        expect(await answers(port), `${label}\n${handle.output()}`).toBeDefined();
        continue;
      }
      const signalled = /^kill -(\w+) "\$\(cat ([\w.]+)\)"/.exec(line);
      // The PID file is written once the app is ready, a moment after it first answers: a
      // user typing the next line is slower than that, the test waits for it.
      if (signalled) await waitUntil(() => readPid(join(dir, signalled[2] as string)) > 0, 30_000);
      const pidBefore = signalled ? readPid(join(dir, signalled[2] as string)) : 0;
      const result = await run('bash', ['-c', line], { cwd: dir });
      expect(result.code, `${label}\n${result.out}`).toBe(0);
      if (signalled?.[1] === 'HUP') {
        const file = join(dir, signalled[2] as string);
        const moved = await waitUntil(
          () => readPid(file) !== pidBefore && readPid(file) > 0,
          30_000,
        );
        expect(moved, `${label}: the PID file never named a new process`).toBe(true);
        expect(await answers(port), label).toBe(200);
      } else if (signalled) {
        expect(await waitUntil(() => !isAlive(pidBefore), 30_000), `${label}: still running`).toBe(
          true,
        );
      }
    }
  }
  // What the doc started ends by itself (a handed-over generation, a stopped supervisor), or
  // is stopped as a user would stop it: either way with exit code 0.
  for (const { child, output, line } of background) {
    if ((await exited(child, 15_000)) === 'still running') child.kill('SIGTERM');
    expect(await exited(child, 30_000), `${line}\n${output()}`).toBe(0);
  }
}

describe('the docs as a user takes them', () => {
  it('every block is a program, shell commands, a fragment or a unit, or says why it is skipped', () => {
    expect(snippets.length).toBeGreaterThan(15);
    for (const s of snippets.filter((s) => s.kind === 'skip')) {
      expect(s.reason, where(s)).toMatch(/\w{4}/);
    }
    // Paths a normal user cannot write are not in what runs.
    for (const s of snippets.filter((s) => s.kind === 'program' || s.kind === 'shell')) {
      expect(s.text, where(s)).not.toMatch(/['"\s](\/run|\/var\/run|\/etc)\//);
    }
  });

  it.each(
    DOCS.filter((doc) =>
      snippets.some((s) => s.doc === doc && s.kind !== 'skip' && s.kind !== 'fragment'),
    ),
  )(
    '%s: its programs, shell commands and units work as written',
    async (doc) => {
      const dir = docDir(doc);
      const port = await freePort();
      const own = snippets.filter((s) => s.doc === doc);
      const shell = own.filter((s) => s.kind === 'shell');
      for (const s of own.filter((s) => s.kind === 'program')) {
        writeFileSync(join(dir, s.file), withPort(s.text, port));
      }
      if (shell.length > 0) await shellSession(shell, dir, port);
      for (const s of own.filter((s) => s.kind === 'program')) {
        // A program a shell block of the doc starts was run there.
        if (shell.some((b) => b.text.includes(s.file))) continue;
        if (/\.listen\(/.test(s.text)) {
          await serveCycle(s, dir, port);
        } else {
          const result = await run('node', [s.file], { cwd: dir, timeoutMs: 30_000 });
          expect(result.code, `${where(s)}\n${result.out}`).toBe(0);
        }
      }
      for (const s of own.filter((s) => s.kind === 'unit')) {
        const file = join(dir, `unit-${s.line}.service`);
        writeFileSync(file, s.text);
        const doctor = await run(
          'graceful-restart',
          ['doctor', '--connections', '100', '--unit', file],
          {
            cwd: dir,
          },
        );
        expect(doctor.code, `${where(s)}\n${doctor.out}`).toBe(0);
      }
    },
    240_000,
  );

  it('every fragment typechecks against the packed packages, with the context it names', async () => {
    const dir = join(project, 'fragments');
    mkdirSync(dir, { recursive: true });
    const files: string[] = [];
    for (const s of snippets.filter((s) => s.kind === 'fragment' && s.lang !== 'ini')) {
      const file = `${s.doc.replace(/[/.]/g, '-')}-${s.line}.${s.text.includes('require(') ? 'cts' : 'mts'}`;
      writeFileSync(join(dir, file), `${s.context}\n${s.text}\nexport {};\n`);
      files.push(file);
    }
    expect(files.length).toBeGreaterThan(2);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: false,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        files,
      }),
    );
    const tsc = await run('tsc', ['-p', 'tsconfig.json'], { cwd: dir });
    expect(tsc.code, tsc.out).toBe(0);
  }, 120_000);
});
