// A vitest reporter that records, for every test file and test, its wall time and the CPU time
// the whole machine spent meanwhile (from /proc/stat, so the servers and clients a test starts
// count too). Run serially (scripts/test-timings.mjs does), the CPU time is the file's own, and
// wall minus CPU is time spent waiting (timers, probations, sleeps) rather than working.
// Writes JSON to $TEST_TIMINGS_FILE (default .ci/results/timings.json).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, relative } from 'node:path';

const TICKS_PER_SECOND = 100;

/** CPU seconds the machine has spent busy since boot (all cores, every process). */
function busySeconds() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/);
    const ticks = fields.slice(1).map(Number);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return (ticks.reduce((sum, value) => sum + value, 0) - idle) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** Where a measurement starts: now, in wall milliseconds and machine busy seconds. */
const mark = () => ({ wall: performance.now(), busy: busySeconds() });
/** Wall and busy CPU seconds since `start`. */
const since = (start) => ({
  wallS: round((performance.now() - start.wall) / 1000),
  cpuS: round(busySeconds() - start.busy),
});

export default class TimingReporter {
  files = new Map();
  tests = new Map();

  onInit(vitest) {
    this.root = vitest.config.root;
    this.start = mark();
  }

  onTestModuleStart(module) {
    this.files.set(module.id, mark());
  }

  onTestModuleEnd(module) {
    const start = this.files.get(module.id);
    if (!start) return;
    this.files.set(module.id, {
      project: module.project.name,
      file: relative(this.root, module.moduleId),
      tests: [...module.children.allTests()].length,
      ...since(start),
    });
  }

  onTestCaseReady(test) {
    this.tests.set(test.id, mark());
  }

  onTestCaseResult(test) {
    const start = this.tests.get(test.id);
    if (!start) return;
    this.tests.set(test.id, {
      project: test.project.name,
      file: relative(this.root, test.module.moduleId),
      name: test.fullName,
      state: test.result().state,
      ...since(start),
    });
  }

  onTestRunEnd() {
    const report = {
      node: process.version,
      cores: availableParallelism(),
      ...since(this.start),
      files: [...this.files.values()].filter((f) => f.file),
      tests: [...this.tests.values()].filter((t) => t.file),
    };
    const out = process.env.TEST_TIMINGS_FILE ?? `${this.root}/.ci/results/timings.json`;
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 1)}\n`);
  }
}

const round = (value) => Math.round(value * 10) / 10;
