import type { Logger } from '../../src/logger.js';

/** A logger that keeps every line, for unit tests that check what was said. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (message: string) => {
    lines.push(`${level}: ${message}`);
  };
  return { lines, info: keep('info'), warn: keep('warn'), error: keep('error') };
}
