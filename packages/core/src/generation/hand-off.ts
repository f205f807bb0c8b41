import type { Logger } from '../logger.js';

/** The most an onHandOff() value may weigh, as JSON: it travels as one line between processes. */
const MAX_HAND_OFF_BYTES = 48 * 1024;
/** How long a handover waits for an onHandOff() provider that returns a promise. */
const HAND_OFF_TIMEOUT_MS = 1_000;

/**
 * The onHandOff() value as it will travel: JSON, within the size limit. A provider that throws,
 * is late, or gives too much hands nothing, with a warning: the handover itself goes on.
 */
export async function handOffValue(
  provider: (() => unknown) | undefined,
  log: Logger,
  timeoutMs = HAND_OFF_TIMEOUT_MS,
): Promise<unknown> {
  if (!provider) return undefined;
  try {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no value within ${timeoutMs} ms`)), timeoutMs);
    });
    const value = await Promise.race([Promise.resolve().then(provider), late]).finally(() =>
      clearTimeout(timer),
    );
    if (value === undefined) return undefined;
    const json = JSON.stringify(value);
    const bytes = Buffer.byteLength(json);
    if (bytes > MAX_HAND_OFF_BYTES) {
      throw new Error(`its JSON is ${bytes} bytes, over ${MAX_HAND_OFF_BYTES}`);
    }
    return JSON.parse(json) as unknown;
  } catch (error) {
    log.warn(
      `onHandOff: nothing handed to the next generation: ${(error as Error).message ?? error}`,
      { event: 'hand-off-failed' },
    );
    return undefined;
  }
}
