import { ErrorCodes, GracefulRestartError } from './errors.js';

/**
 * Rejects an options object with a key not in `known`: a misspelt option (`readyTimeout`,
 * `pidfile`) would otherwise be ignored in silence. The error names the closest valid one.
 * `label` prefixes nested options (`drain.`).
 */
export function checkOptionNames(options: unknown, known: readonly string[], label = ''): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `${label ? label.replace(/\.$/, '') : 'The options'} must be an object of options (got ${describeValue(options)}).`,
    );
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = closest(key, known);
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `Unknown option "${label}${key}"${near ? `: did you mean "${label}${near}"?` : '.'} ` +
        `Valid options${label ? ` of ${label.replace(/\.$/, '')}` : ''}: ${known.join(', ')}.`,
    );
  }
}

/** A value as an error message names it: its type, and the value itself when short. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return `an array ${truncate(JSON.stringify(value))}`;
  if (typeof value === 'string') return `the string ${truncate(JSON.stringify(value))}`;
  if (typeof value === 'object') return `an object ${truncate(safeJson(value))}`;
  if (typeof value === 'function') return 'a function';
  return `${typeof value} ${String(value)}`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The known name nearest to `name` (case-insensitive edit distance), when near enough to be a typo. */
function closest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const c = candidate.toLowerCase();
    // A prefix or an extension (`readyTimeout` / `readyTimeoutMs`) is a typo too.
    const distance = c.startsWith(lower) || lower.startsWith(c) ? 1 : editDistance(lower, c);
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(name.length / 3)) ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (previous[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length] as number;
}
