#!/usr/bin/env node
// Finds flaky tests: runs vitest ROUNDS times (after a build), optionally beside a CPU hog that
// keeps one core busy, and prints every test that failed at least once with how often.
//
//   node scripts/repeat-tests.mjs ROUNDS [--hog] [vitest run arguments]
//   e.g. node scripts/repeat-tests.mjs 5 --hog --project 'core:integration'
//
// The hog is a busy loop in a child process of this script, ended by its pid after each round.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const [roundsArg, ...rest] = process.argv.slice(2);
const rounds = Number(roundsArg);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50) {
  console.error('usage: node scripts/repeat-tests.mjs ROUNDS(1-50) [--hog] [vitest arguments]');
  process.exit(2);
}
const hog = rest.includes('--hog');
const vitestArgs = rest.filter((arg) => arg !== '--hog');
const dir = mkdtempSync(join(tmpdir(), 'gr-repeat-'));
const failures = new Map();

for (let round = 1; round <= rounds; round++) {
  const hogProcess = hog
    ? spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' })
    : undefined;
  const report = join(dir, `round-${round}.json`);
  const started = performance.now();
  spawnSync(
    process.execPath,
    [
      'node_modules/vitest/vitest.mjs',
      'run',
      '--reporter=dot',
      '--reporter=json',
      `--outputFile.json=${report}`,
      ...vitestArgs,
    ],
    { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (hogProcess?.pid) process.kill(hogProcess.pid, 'SIGKILL');
  let failed = 0;
  try {
    const result = JSON.parse(readFileSync(report, 'utf8'));
    for (const file of result.testResults) {
      for (const test of file.assertionResults) {
        if (test.status !== 'failed') continue;
        failed++;
        const key = `${test.fullName} (${file.name.replace(root, '')})`;
        const seen = failures.get(key) ?? { count: 0, message: test.failureMessages[0] ?? '' };
        seen.count++;
        failures.set(key, seen);
      }
    }
  } catch {
    failures.set(`round ${round}: no report`, { count: 1, message: '' });
  }
  const seconds = Math.round((performance.now() - started) / 1000);
  console.log(
    `round ${round}/${rounds}: ${failed} failed, ${seconds} s${hog ? ' (with a CPU hog)' : ''}`,
  );
}

console.log(failures.size === 0 ? 'no test failed' : 'failed at least once:');
for (const [name, { count, message }] of failures) {
  console.log(`${count}/${rounds}  ${name}\n        ${message.split('\n')[0]}`);
}
process.exit(failures.size === 0 ? 0 : 1);
