// Shared by the example suites: start an example through its contract, restart it, end it.
import { existsSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { type Endpoint, freePort, get, pidIn } from '../../packages/core/test/helpers/http.js';
import { Fixture, poll } from '../../packages/core/test/helpers/process.js';
import { examplesFrom } from './test-selection.js';

/**
 * The examples the suites in test/each/ run for: the one their vitest project names
 * (`examples-<name>:integration` sets GR_EXAMPLE, see vitest.config.ts), else all of them.
 */
export const EXAMPLES = examplesFrom(process.env['GR_EXAMPLE']);

/**
 * How many times a suite in test/each/ repeats a restart loop for `example`: `long` for
 * examples/http, `short` for the others. What a long loop adds over a short one (something
 * that grows from generation to generation, a rare race in the handover) is core's, the same
 * for every example, and core's own suites repeat it too; what is the example's own (its
 * adapter's drain, a leaked fd, counted exactly) shows within the short loop.
 */
export const loopsFor = (example: string, long: number, short: number) =>
  example === 'http' ? long : short;

/**
 * The entry file, relative to the example's directory: its start script is `node <entry>`.
 * A test fixture without a package.json (test/fixtures/...) is a `server.mjs`.
 */
export function entryFileOf(example: string): string {
  const manifestFile = new URL(`../${example}/package.json`, import.meta.url);
  if (!existsSync(manifestFile)) return 'server.mjs';
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
    scripts: { start: string };
  };
  const entry = /^node (\S+)$/.exec(manifest.scripts.start)?.[1];
  if (!entry) throw new Error(`examples/${example}: start script is not "node <entry>"`);
  return entry;
}
export const entryOf = (example: string) =>
  new URL(`../${example}/${entryFileOf(example)}`, import.meta.url).pathname;
/** The file that writes the answer to `GET /` (the built controller for nestjs). */
export const answerFileOf = (example: string) =>
  example === 'nestjs' ? 'dist/app.controller.js' : entryFileOf(example);

export const TOKEN = 'an-admin-secret-for-the-examples-0123456789';

/** Every example process a test started: ended after it, and checked for the secret. */
const started: Fixture[] = [];
export function launch(example: string, env: Record<string, string>): Fixture {
  return launchWith(example, env, []);
}
/** `launcher... node examples/<example>/<entry>`, e.g. under `graceful-restart run --`. */
export function launchWith(
  example: string,
  env: Record<string, string>,
  launcher: string[],
  spawnOptions: { detached?: boolean } = {},
): Fixture {
  // Info-level logs, so that the check below reads everything the examples say.
  const f = new Fixture(
    entryOf(example),
    { LOG_LEVEL: 'info', ...env },
    process.execPath,
    launcher,
    spawnOptions,
  );
  started.push(f);
  return f;
}
/** For afterEach: ends every process the test started, and checks none logged the secret. */
export async function endAll(): Promise<void> {
  for (const f of started.splice(0)) {
    await f.kill();
    for (const line of [...f.stdout, ...f.stderr]) expect(line).not.toContain(TOKEN);
  }
}

/** Starts the example and resolves once it answers and is ready; every pid it answers with is ended after. */
export async function startExample(
  example: string,
  env: Record<string, string>,
  endpoint: Endpoint,
) {
  const f = launch(example, env);
  const pid = await poll(async () => pidIn((await get(endpoint)).body) || undefined, 10_000);
  expect(pid).toBe(f.first.pid);
  // It answers as soon as it listens; it is ready (readiness 200) a moment later.
  const ready = await poll(
    async () => ((await get(endpoint, '/healthz')).status === 200 ? true : undefined),
    10_000,
  );
  expect(ready, 'readiness 200 after the first answer').toBe(true);
  return f;
}

/** Starts the example on a free TCP port of 127.0.0.1 (env: PORT plus `env`) once it answers. */
export async function startOnFreePort(example: string, env: Record<string, string> = {}) {
  const port = await freePort();
  const endpoint = { host: '127.0.0.1', port };
  const f = await startExample(example, { PORT: String(port), ...env }, endpoint);
  return { f, port, endpoint };
}

/**
 * SIGHUP `pid`; resolves with the pid that then answers. With `expectNew` (the default) a
 * restart that leaves `pid` serving fails the test; without it, `pid` is the expected answer.
 */
export async function restart(f: Fixture, endpoint: Endpoint, pid: number, expectNew = true) {
  process.kill(pid, 'SIGHUP');
  const next = await poll(
    async () => {
      const served = pidIn((await get(endpoint)).body);
      return served && served !== pid ? served : undefined;
    },
    expectNew ? 10_000 : 1500,
  );
  if (next) f.pids.add(next);
  if (expectNew && !next) throw new Error(`pid ${pid} still serves 10 s after SIGHUP`);
  return next ?? pid;
}

export { CLI, cli, runArgs } from '../../packages/core/test/helpers/supervisor.js';
