// The one probation verdict (a direct restart's and a supervisor reload's), on real child
// processes: passed after the probation, when the new one says it leaves, or when a newer reload
// ends it; failed, naming how, when the new one dies first without a word.
import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../src/errors.js';
import { probationVerdict } from '../src/handover/verdict.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** A node child running `code`, with fd 3 a pipe to us; `leaving` settles when it writes "leaving". */
function newGeneration(code: string) {
  const child = spawn(process.execPath, ['-e', code], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  const channel = child.stdio[3] as Socket;
  const leaving = new Promise<void>((resolve) => {
    channel.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('leaving')) resolve();
    });
  });
  return { pid: child.pid as number, child, channel, leaving };
}

const wording = { what: 'generation', servesAgain: ': pid 1 serves again' } as const;
const LIVES = 'setTimeout(() => {}, 5000)';

describe('the probation verdict', () => {
  it('passes when the new generation lives through the probation', async () => {
    const verdict = await probationVerdict([newGeneration(LIVES)], 100, wording);
    expect(verdict).toEqual({ passed: true });
  });

  it('fails when it dies first, naming the pid, the exit and the probation', async () => {
    const dying = newGeneration('process.exit(3)');
    const verdict = await probationVerdict([dying], 5000, wording);
    expect(verdict.passed).toBe(false);
    if (verdict.passed) return;
    expect(verdict.error.code).toBe(ErrorCodes.ROLLED_BACK);
    expect(verdict.error.exitCode).toBe(3);
    expect(verdict.error.message).toMatch(
      new RegExp(
        `^The new generation \\(pid ${dying.pid}\\) died \\d+ ms after it was ready \\(exit code 3\\), within its 5000 ms probation: pid 1 serves again\\. Its own output above says why\\.$`,
      ),
    );
  });

  it('a signal is named as such; with a set of workers, any one dying fails it', async () => {
    const killed = newGeneration(LIVES);
    const verdict = probationVerdict([newGeneration(LIVES), killed], 5000, {
      what: 'worker',
      servesAgain: '',
    });
    killed.child.kill('SIGKILL');
    const settled = await verdict;
    expect(settled.passed).toBe(false);
    if (settled.passed) return;
    expect(settled.error.signal).toBe('SIGKILL');
    expect(settled.error.message).toMatch(
      /^The new worker \(pid \d+\) died .*\(signal SIGKILL\), within its 5000 ms probation\. Its/,
    );
  });

  it('passes when the new generation says it leaves, even if it exits right after', async () => {
    const code = "require('fs').writeSync(3, 'leaving\\n'); process.exit(0)";
    const verdict = await probationVerdict([newGeneration(code)], 5000, wording);
    expect(verdict).toEqual({ passed: true });
  });

  it('passes when a newer reload ends it early', async () => {
    const end = new AbortController();
    const verdict = probationVerdict([newGeneration(LIVES)], 5000, wording, end.signal);
    end.abort();
    expect(await verdict).toEqual({ passed: true });
  });
});
