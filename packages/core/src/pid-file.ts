import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { ErrorCodes, GracefulRestartError } from './errors.js';

/** Writes the PID file atomically: a reader sees the old pid or the new one, never a torn file. */
export async function writePidFile(path: string, pid: number): Promise<void> {
  const temp = `${path}.${pid}.tmp`;
  try {
    await writeFile(temp, `${pid}\n`, { mode: 0o644 });
    await rename(temp, path);
  } catch (cause) {
    await unlink(temp).catch(() => undefined);
    throw new GracefulRestartError(
      ErrorCodes.PID_FILE_FAILED,
      `Cannot write the PID file ${path}: ${(cause as Error).message}. Check that its directory exists and is writable.`,
      { cause },
    );
  }
}

/** Removes the PID file on final shutdown, only while it still names this process. */
export async function removePidFile(path: string, pid: number): Promise<void> {
  const content = await readFile(path, 'utf8').catch(() => undefined);
  if (content?.trim() === String(pid)) await unlink(path).catch(() => undefined);
}
