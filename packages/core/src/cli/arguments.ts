import { availableParallelism } from 'node:os';
import { DEFAULTS } from '../defaults.js';
import type { ListenerSpec } from '../sockets/spec.js';
import { UsageError } from './usage.js';

/** `3000`, `host:port`, `name=host:port`, `name=[::1]:port`, `name=unix:/path[,mode=0660]`. */
export function parseListen(text: string): ListenerSpec {
  const eq = text.indexOf('=');
  const hasName = eq > 0 && !text.slice(0, eq).includes(':') && !text.startsWith('unix:');
  const name = hasName ? text.slice(0, eq) : DEFAULTS.listenerName;
  const address = hasName ? text.slice(eq + 1) : text;
  if (address.startsWith('unix:')) {
    const [path = '', ...options] = address.slice(5).split(',');
    const spec: ListenerSpec = { name, path };
    for (const option of options) {
      const mode = /^mode=(0?[0-7]{3})$/.exec(option);
      if (!mode?.[1])
        throw new UsageError(
          `--listen ${text}: unknown option "${option}" (only mode=0660 style is accepted)`,
        );
      spec.mode = Number.parseInt(mode[1], 8);
    }
    return spec;
  }
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address) ?? /^()()(\d+)$/.exec(address);
  if (!match?.[3]) {
    throw new UsageError(
      `--listen ${text}: expected name=host:port (e.g. web=127.0.0.1:3000, web=[::1]:3000), a port (3000) or name=unix:/path`,
    );
  }
  const host = match[1] || match[2] || DEFAULTS.host;
  return { name, host, port: Number(match[3]) };
}

/** `1500`, `1500ms`, `30s`: milliseconds. */
export function parseDuration(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text);
  if (!match?.[1]) throw new UsageError(`${option} ${text}: expected a duration like 30s or 500ms`);
  return Math.round(Number(match[1]) * (match[2] === 's' ? 1000 : 1));
}

export function parseCount(text: string, option: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${option} ${text}: expected a whole number`);
  return Number(text);
}

/** `--workers N` (1 or more) or `auto`: one per CPU this process may use. */
export function parseWorkers(text: string): number {
  if (text === 'auto') return availableParallelism();
  const count = parseCount(text, '--workers');
  if (count < 1) throw new UsageError(`--workers ${text}: expected 1 or more, or auto`);
  return count;
}

/** `--reload-batch K`: 1 or more. */
export function parseReloadBatch(text: string): number {
  const count = parseCount(text, '--reload-batch');
  if (count < 1) throw new UsageError(`--reload-batch ${text}: expected 1 or more`);
  return count;
}

/** True when `--help` or `-h` comes before the worker command's `--`. */
export function asksForHelp(argv: string[]): boolean {
  const split = argv.indexOf('--');
  return (split < 0 ? argv : argv.slice(0, split)).some((arg) => arg === '--help' || arg === '-h');
}
