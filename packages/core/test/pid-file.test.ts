import { lstatSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { removePidFile, writePidFile } from '../src/pid-file.js';
import { tempDir } from './helpers/process.js';

describe('PID file', () => {
  it('is written atomically, and removed only while it names this process', async () => {
    const path = `${tempDir()}/app.pid`;
    await writePidFile(path, 1234);
    expect(readFileSync(path, 'utf8')).toBe('1234\n');
    await removePidFile(path, 999);
    expect(readFileSync(path, 'utf8')).toBe('1234\n');
    await removePidFile(path, 1234);
    expect(() => lstatSync(path)).toThrow(/ENOENT/);
  });

  it('never follows a symlink planted at its temporary name', async () => {
    const dir = tempDir();
    const path = `${dir}/app.pid`;
    const victim = `${dir}/victim`;
    writeFileSync(victim, 'precious\n');
    // The name a writer for pid 4321 tries first: a symlink there must not be written through.
    symlinkSync(victim, `${path}.4321.tmp`);
    await writePidFile(path, 4321);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(readFileSync(path, 'utf8')).toBe('4321\n');
    expect(lstatSync(path).isSymbolicLink()).toBe(false);
    expect(readlinkSync(`${path}.4321.tmp`)).toBe(victim);
  });
});
