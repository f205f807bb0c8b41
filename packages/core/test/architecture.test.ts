import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as core from '../src/index.js';

const src = fileURLToPath(new URL('../src/', import.meta.url));

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

  it('exports exactly the documented public surface', () => {
    expect(Object.keys(core).sort()).toEqual([
      'AdminRoute',
      'CWD_ENV',
      'DEFAULTS',
      'ErrorCodes',
      'ExitCodes',
      'Graceful',
      'GracefulRestartError',
      'PROBATION_ENV',
      'Supervisor',
      'SupervisorExitCodes',
      'TOKEN_ENV',
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
