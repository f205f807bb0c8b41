import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as core from '../src/index.js';

const src = fileURLToPath(new URL('../src/', import.meta.url));
const packages = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string) => readFileSync(join(src, file), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Every relative import of every module in src, type-only imports included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(src)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)].map((m) =>
      relative(src, resolve(dirname(file), `${m[1]}.ts`)),
    );
    graph.set(relative(src, file), targets);
  }
  return graph;
}

/** The import cycles of `graph`, each as the path that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const visit = (node: string, path: string[]) => {
    if (path.includes(node)) {
      found.push([...path.slice(path.indexOf(node)), node]);
      return;
    }
    if (done.has(node)) return;
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    done.add(node);
  };
  for (const node of graph.keys()) visit(node, []);
  return found;
}

describe('architecture of core', () => {
  it('has no import cycle (type-only imports count too)', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(20);
    expect(cycles(graph)).toEqual([]);
  });

  it('finds a cycle when there is one (the check itself works)', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ]);
    expect(cycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });

  it('has no source file over 300 lines, in any package', () => {
    const files = readdirSync(packages).flatMap((name) => {
      try {
        return sourceFiles(join(packages, name, 'src'));
      } catch {
        return [];
      }
    });
    expect(files.length).toBeGreaterThan(60);
    const long = files
      .map((file) => [relative(packages, file), readFileSync(file, 'utf8').split('\n').length - 1])
      .filter(([, lines]) => (lines as number) > 300);
    expect(long).toEqual([]);
  });

  it('only each coordinator moves its table: generation/lifecycle.ts and supervisor/supervisor.ts', () => {
    const callers = (call: RegExp) =>
      [...importGraph().keys()].filter((file) => call.test(read(file))).sort();
    expect(callers(/[^.\w]transition\(/)).toEqual([
      'generation/lifecycle.ts',
      'generation/state.ts',
    ]);
    expect(callers(/[^.\w]supervisorTransition\(/)).toEqual([
      'supervisor/state.ts',
      'supervisor/supervisor.ts',
    ]);
  });

  it('the generation and the supervisor meet only through handover/', () => {
    const crossing = [...importGraph()].flatMap(([file, targets]) =>
      targets
        .filter(
          (target) =>
            (file.startsWith('generation/') && target.startsWith('supervisor/')) ||
            (file.startsWith('supervisor/') && target.startsWith('generation/')),
        )
        .map((target) => `${file} -> ${target}`),
    );
    expect(crossing).toEqual([]);
    // And handover/ serves both without knowing either.
    const handover = [...importGraph()].filter(([file]) => file.startsWith('handover/'));
    expect(handover.length).toBeGreaterThan(5);
    for (const [file, targets] of handover) {
      expect(
        targets.filter((t) => t.startsWith('generation/') || t.startsWith('supervisor/')),
        file,
      ).toEqual([]);
    }
  });

  it('exports only what another module imports (or the public index), beside named test seams', () => {
    // Each seam is exported for a unit test alone, for the reason given.
    const seams = new Set([
      // The tables' vocabularies: the table tests go through every (state, event) pair.
      'generation/state.ts:States',
      'generation/state.ts:Events',
      'supervisor/state.ts:SupervisorStates',
      'supervisor/state.ts:SupervisorEvents',
      // The backoff schedule, tested without waiting through it.
      'supervisor/recovery.ts:backoffMs',
      // The burst decision, tested with the times given.
      'sockets/spread.ts:BurstBudget',
      // A node without the handle factory, which no supported node is.
      'sockets/held.ts:handleFactory',
      // The lame duck's early end, tested with the balancer's signs given.
      'generation/lame-duck.ts:balancerMovedOff',
      // What a crash leads to, tested with the facts given.
      'generation/crash.ts:crashPlan',
      // Which old generations a restart cuts, tested with their drains given.
      'generation/drain-budgets.ts:overTheCap',
      'generation/crash.ts:CRASH_BUDGET',
      'generation/crash.ts:CrashFacts',
    ]);
    const exported = [...importGraph().keys()].flatMap((file) =>
      [
        ...read(file).matchAll(
          /^export (?:async )?(?:const|function|class|interface|type|abstract class) (\w+)/gm,
        ),
      ].map((m) => `${file}:${m[1]}`),
    );
    const imported = new Set<string>();
    for (const file of importGraph().keys()) {
      const text = read(file);
      for (const m of text.matchAll(
        /(?:import|export)\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'(\.{1,2}\/[^']+)\.js'/g,
      )) {
        const target = relative(src, resolve(dirname(join(src, file)), `${m[2]}.ts`));
        for (const name of (m[1] as string).split(',')) {
          const base = name
            .trim()
            .replace(/^type /, '')
            .split(' as ')[0]
            ?.trim();
          if (base) imported.add(`${target}:${base}`);
        }
      }
    }
    const unused = exported.filter(
      (key) =>
        !imported.has(key) &&
        !seams.has(key) &&
        !key.startsWith('index.ts:') &&
        !key.startsWith('cli.ts:'),
    );
    expect(unused).toEqual([]);
    // A seam that another module imports now needs no excuse: drop it from the list.
    expect([...seams].filter((key) => imported.has(key))).toEqual([]);
  });

  it('docs/architecture.md names every source file of core in its module table', () => {
    const doc = readFileSync(join(packages, '..', 'docs', 'architecture.md'), 'utf8');
    const table = doc.slice(doc.indexOf('## Modules'), doc.indexOf('## A restart'));
    const missing = [...importGraph().keys()].filter((file) => !table.includes(`\`${file}\``));
    expect(missing).toEqual([]);
  });

  it('exports exactly the documented public surface', () => {
    expect(Object.keys(core).sort()).toEqual([
      'AdminRoute',
      'CWD_ENV',
      'DEFAULTS',
      'ErrorCodes',
      'ExitCodes',
      'Graceful',
      'GracefulRestartError',
      'LAME_DUCK_ENV',
      'PROBATION_ENV',
      'Supervisor',
      'SupervisorExitCodes',
      'TOKEN_ENV',
      'WARM_UP_ENV',
      'WARM_UP_HEADER',
      'createAdminRoute',
      'createGraceful',
      'createMiddlewareKit',
      'currentCommand',
      'defaultControlPath',
      'fromNode',
      'healthAnswer',
      'hostAddresses',
      'importPeer',
      'isGracefulRestartError',
      'listenOnAddresses',
      'sendControl',
      'serve',
    ]);
  });
});
