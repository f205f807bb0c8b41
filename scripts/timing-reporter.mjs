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

export default class TimingReporter {
  files = new Map();
  tests = new Map();
  started = 0;
  startedBusy = 0;

  onInit(vitest) {
    this.root = vitest.config.root;
    this.started = performance.now();
    this.startedBusy = busySeconds();
  }

  onTestModuleStart(module) {
    this.files.set(module.id, { wall: performance.now(), busy: busySeconds() });
  }

  onTestModuleEnd(module) {
    const start = this.files.get(module.id);
    if (!start) return;
    this.files.set(module.id, {
      project: module.project.name,
      file: relative(this.root, module.moduleId),
      wallS: round((performance.now() - start.wall) / 1000),
      cpuS: round(busySeconds() - start.busy),
      tests: [...module.children.allTests()].length,
    });
  }

  onTestCaseReady(test) {
    this.tests.set(test.id, { wall: performance.now(), busy: busySeconds() });
  }

  onTestCaseResult(test) {
    const start = this.tests.get(test.id);
    if (!start) return;
    this.tests.set(test.id, {
      project: test.project.name,
      file: relative(this.root, test.module.moduleId),
      name: test.fullName,
      state: test.result().state,
      wallS: round((performance.now() - start.wall) / 1000),
      cpuS: round(busySeconds() - start.busy),
    });
  }

  onTestRunEnd() {
    const report = {
      node: process.version,
      cores: availableParallelism(),
      wallS: round((performance.now() - this.started) / 1000),
      cpuS: round(busySeconds() - this.startedBusy),
      files: [...this.files.values()].filter((f) => f.file),
      tests: [...this.tests.values()].filter((t) => t.file),
    };
    const out = process.env.TEST_TIMINGS_FILE ?? `${this.root}/.ci/results/timings.json`;
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 1)}\n`);
  }
}

const round = (value) => Math.round(value * 10) / 10;
