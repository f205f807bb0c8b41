#!/usr/bin/env node
// Where the test suite's time goes: wall and CPU time per file and per test, and how much of
// the wall time is waiting rather than work.
//
//   node scripts/test-timings.mjs [vitest run arguments]   runs the tests one file at a time
//                                                          (so each file's CPU is its own), then reports
//   node scripts/test-timings.mjs --report FILE.json       reports a run recorded by
//                                                          scripts/timing-reporter.mjs (CI records one per pass)
//
// "cpu" is what the whole machine spent busy meanwhile, in core-seconds: the servers, clients and
// tools a test starts count. "waiting" is wall minus cpu: time in which not even one core worked.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const TOP_TESTS = 25;

let file;
if (args[0] === '--report') {
  file = args[1];
  if (!file) {
    console.error('usage: node scripts/test-timings.mjs --report FILE.json');
    process.exit(2);
  }
} else {
  file = `${root}.ci/results/timings-serial.json`;
  const run = spawnSync(
    process.execPath,
    [
      'node_modules/vitest/vitest.mjs',
      'run',
      '--maxWorkers=1',
      '--reporter=default',
      `--reporter=${root}scripts/timing-reporter.mjs`,
      ...args,
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, TEST_TIMINGS_FILE: file } },
  );
  if (run.status !== 0) console.error(`vitest exited with ${run.status}; reporting what ran`);
}

const report = JSON.parse(readFileSync(file, 'utf8'));
console.log(summary(report));

function summary({ node, cores, wallS, cpuS, files, tests }) {
  const lines = [];
  const pct = (part, whole) => `${whole > 0 ? Math.round((100 * part) / whole) : 0}%`;
  const fileWall = files.reduce((sum, f) => sum + f.wallS, 0);
  lines.push(
    `node ${node}, ${cores} cores: ${wallS} s wall, ${cpuS} core-s busy ` +
      `(${pct(cpuS, wallS * cores)} of the machine); files add up to ${Math.round(fileWall)} s`,
  );
  lines.push(
    '',
    '| file | project | tests | wall s | cpu s | waiting |',
    '|---|---|---|---|---|---|',
  );
  for (const f of [...files].sort((a, b) => b.wallS - a.wallS)) {
    const waiting = Math.max(0, f.wallS - f.cpuS);
    lines.push(
      `| ${f.file} | ${f.project} | ${f.tests} | ${f.wallS} | ${f.cpuS} | ${pct(waiting, f.wallS)} |`,
    );
  }
  lines.push(
    '',
    `slowest ${TOP_TESTS} tests:`,
    '| test | file | wall s | cpu s |',
    '|---|---|---|---|',
  );
  for (const t of [...tests].sort((a, b) => b.wallS - a.wallS).slice(0, TOP_TESTS)) {
    lines.push(`| ${t.name} | ${t.file} (${t.project}) | ${t.wallS} | ${t.cpuS} |`);
  }
  return lines.join('\n');
}
