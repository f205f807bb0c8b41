// docs/reference.md against the source, both ways: every option, flag, environment variable,
// event, error code, exit code and admin answer the code has is in the reference, and the
// reference names nothing the code does not have.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../src/errors.js';
import { GRACEFUL_OPTION_NAMES } from '../src/options.js';
import { SupervisorExitCodes } from '../src/supervisor/options.js';

const root = new URL('../../../', import.meta.url).pathname;
const reference = readFileSync(join(root, 'docs/reference.md'), 'utf8');

/** Every .ts file under a package's src/, as text. */
function sources(pkg: string): Map<string, string> {
  const dir = join(root, 'packages', pkg, 'src');
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.ts'),
  );
  return new Map(files.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}
const core = sources('core');
const all = new Map(
  ['core', 'fastify', 'express', 'koa', 'hono'].flatMap((pkg) =>
    [...sources(pkg)].map(([file, text]) => [`${pkg}/${file}`, text] as const),
  ),
);
const text = (file: string) => core.get(file) ?? '';

/** The table rows of a section of the reference: cells, without the header and rule. */
function rows(section: string): string[][] {
  const start = reference.indexOf(`## ${section}\n`);
  expect(start, `section "${section}"`).toBeGreaterThan(-1);
  const end = reference.indexOf('\n## ', start + 1);
  const body = reference.slice(start, end < 0 ? undefined : end);
  return body
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|\s*-/.test(line))
    .slice(1)
    .map((line) =>
      line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}
/** The `code` spans of a cell. */
const spans = (cell = '') => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
const sorted = (names: Iterable<string>) => [...new Set(names)].sort();

/** String literals of an array literal's text. */
const literals = (array: string) => [...array.matchAll(/'([^']+)'/g)].map((m) => m[1] as string);

describe('docs/reference.md matches the source', () => {
  it('options: every name the option checks accept, and no other', () => {
    const inCode = new Set<string>(GRACEFUL_OPTION_NAMES);
    const drain = /const DRAIN_OPTION_NAMES = \[([^\]]*)\]/.exec(text('options.ts'))?.[1] ?? '';
    for (const name of literals(drain)) inCode.add(`drain.${name}`);
    for (const [, source] of all) {
      // checkOptionNames(options, ['a', 'b'], 'label.') and the adapters' own names.
      for (const m of source.matchAll(
        /checkOptionNames\(\s*\w+(?:\.\w+)?,\s*\[([^\]]*)\],?\s*(?:'([a-z]+\.)')?/g,
      )) {
        for (const name of literals(m[1] as string)) inCode.add(`${m[2] ?? ''}${name}`);
      }
      for (const m of source.matchAll(/createMiddlewareKit\([^;]*?,\s*\[([^\]]*)\]\)/g)) {
        for (const name of literals(m[1] as string)) inCode.add(name);
      }
    }
    const documented = rows('Options').map((cells) => spans(cells[0])[0] ?? '');
    expect(sorted(documented)).toEqual(sorted(inCode));
  });

  it('command line: every flag the commands parse, and no other', () => {
    const inCode = new Set<string>();
    for (const file of ['cli.ts', 'doctor/command.ts']) {
      const source = text(file);
      for (const block of source.matchAll(/options: \{([\s\S]*?)\n {4}\},/g)) {
        for (const m of (block[1] as string).matchAll(
          /'?([a-z][a-z-]*)'?: \{ type: '\w+'(?:, short: '(\w)')?/g,
        )) {
          inCode.add(`--${m[1]}`);
          if (m[2]) inCode.add(`-${m[2]}`);
        }
      }
      for (const m of source.matchAll(/case '(-{1,2}[a-z]+)'/g)) inCode.add(m[1] as string);
    }
    inCode.add('--help').add('-h'); // asked of every command (cli/arguments.ts)
    const documented = rows('Command line').flatMap((cells) => spans(cells[0]));
    expect(sorted(documented)).toEqual(sorted(inCode));
  });

  it('environment variables: every one the packages read, and no other', () => {
    const inCode = new Set<string>();
    for (const [, source] of all) {
      for (const m of source.matchAll(/env\[['"]([A-Za-z_]+)['"]\]/g)) inCode.add(m[1] as string);
      for (const m of source.matchAll(/(?:_ENV = |variable: )'([A-Z_]+)'/g))
        inCode.add(m[1] as string);
    }
    const documented = rows('Environment variables').flatMap((cells) => spans(cells[0]));
    expect(sorted(documented)).toEqual(sorted(inCode));
  });

  it('events: every event of GracefulEvents, and no other', () => {
    const body =
      /interface GracefulEvents \{([\s\S]*?)\n\}/.exec(text('generation/events.ts'))?.[1] ?? '';
    const inCode = [...body.matchAll(/^\s+'?([a-z-]+)'?: \[/gm)].map((m) => m[1] as string);
    expect(inCode.length).toBeGreaterThan(5);
    const documented = rows('Events').map((cells) => spans(cells[0])[0] ?? '');
    expect(sorted(documented)).toEqual(sorted(inCode));
  });

  it('error codes: every code, each with what to do, and no other', () => {
    const table = rows('Error codes');
    expect(sorted(table.map((cells) => spans(cells[0])[0] ?? ''))).toEqual(
      sorted(Object.values(ErrorCodes)),
    );
    for (const cells of table) expect(cells[2], cells[0]).toMatch(/\w{3}/);
  });

  it("exit codes: the supervisor's table, by name and number", () => {
    const documented = rows('Exit codes')
      .filter((cells) => cells[0] === '`graceful-restart run`')
      .map((cells) => cells[1] ?? '');
    expect(sorted(documented)).toEqual(
      sorted(
        Object.entries(SupervisorExitCodes).map(([name, code]) => `\`${code}\` (\`${name}\`)`),
      ),
    );
  });

  it('admin route answers: every status and error code the route gives, and no other', () => {
    const route = text('admin/route.ts');
    const inCode = new Set<string>();
    for (const m of route.matchAll(/failure\(\s*(\d{3}),\s*'([a-z_]+)'/g))
      inCode.add(`${m[1]} ${m[2]}`);
    for (const m of route.matchAll(
      /timeout \? (\d{3}) : (\d{3}),\s*timeout \? '([a-z_]+)' : '([a-z_]+)'/g,
    )) {
      inCode.add(`${m[1]} ${m[3]}`).add(`${m[2]} ${m[4]}`);
    }
    for (const m of route.matchAll(/statusCode: (\d{3}),/g)) inCode.add(`${m[1]} none`);
    const documented = rows('Admin route answers').map(
      (cells) => `${spans(cells[0])[0]} ${spans(cells[1])[0] ?? cells[1]}`,
    );
    expect(sorted(documented)).toEqual(sorted(inCode));
  });
});
