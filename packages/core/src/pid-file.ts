import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ErrorCodes, GracefulRestartError } from './errors.js';

/**
 * Writes the PID file atomically: a reader sees the old pid or the new one, never a torn file.
 * The temporary file beside it is created exclusively (O_CREAT|O_EXCL: never through a symlink
 * or over an existing file); when its name is taken, another with a random part is tried.
 */
export async function writePidFile(path: string, pid: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const temp =
      attempt === 0 ? `${path}.${pid}.tmp` : `${path}.${pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temp, `${pid}\n`, { mode: 0o644, flag: 'wx' });
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 5) continue;
      throw pidFileError(path, cause);
    }
    try {
      await rename(temp, path);
      return;
    } catch (cause) {
      await unlink(temp).catch(() => undefined);
      throw pidFileError(path, cause);
    }
  }
}

/**
 * Fails at construction, before anything listens, when the PID file's directory is missing or
 * not writable: every adapter then fails the same way, at startup (the write itself comes at
 * ready()).
 */
export function checkPidFileDirectory(path: string): void {
  try {
    accessSync(dirname(resolve(path)), constants.W_OK);
  } catch (cause) {
    throw pidFileError(path, cause);
  }
}

function pidFileError(path: string, cause: unknown): GracefulRestartError {
  return new GracefulRestartError(
    ErrorCodes.PID_FILE_FAILED,
    `Cannot write the PID file ${path}: ${(cause as Error).message}. Check that its directory exists and is writable.`,
    { cause },
  );
}

/** Removes the PID file on final shutdown, only while it still names this process. */
export async function removePidFile(path: string, pid: number): Promise<void> {
  const content = await readFile(path, 'utf8').catch(() => undefined);
  if (content?.trim() === String(pid)) await unlink(path).catch(() => undefined);
}
