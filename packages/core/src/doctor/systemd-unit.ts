import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseSystemdTime } from '../lame-duck-setting.js';

/** The settings of a service unit that decide whether a restart or a stop can be graceful. */
interface UnitSettings {
  unit: string;
  /** Where they were read: `systemctl show` or the unit file. */
  source: string;
  type: string;
  notifyAccess: string;
  killMode: string;
  /** undefined: no limit (infinity). */
  timeoutStopMs: number | undefined;
  execReload: string;
}

// systemd's defaults where a unit file leaves a setting out.
const UNIT_DEFAULTS = {
  Type: 'simple',
  NotifyAccess: 'none',
  KillMode: 'control-group',
  TimeoutStopSec: '90s',
  ExecReload: '',
};

/**
 * `unit`: a unit file's path (checked before it is installed), or a unit's name read through
 * `systemctl show`; undefined: the unit this process runs in, when systemd started it.
 */
export async function readUnit(unit: string | undefined): Promise<UnitSettings | undefined> {
  if (unit?.includes('/')) return fromFile(unit);
  const name = unit ?? (await ownUnit());
  return name ? fromSystemctl(name) : undefined;
}

/** The service this process runs in: under systemd (INVOCATION_ID), named in /proc/self/cgroup. */
async function ownUnit(): Promise<string | undefined> {
  if (!process.env['INVOCATION_ID']) return undefined;
  const cgroup = await readFile('/proc/self/cgroup', 'utf8').catch(() => '');
  return /\/([^/\n]+\.service)(?:\/|$)/m.exec(cgroup)?.[1];
}

async function fromFile(path: string): Promise<UnitSettings> {
  const text = await readFile(path, 'utf8');
  const values: Record<string, string> = { ...UNIT_DEFAULTS };
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const header = /^\[(.+)\]$/.exec(line);
    if (header) section = header[1] ?? '';
    const pair = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(line);
    if (section === 'Service' && pair?.[1]) values[pair[1]] = pair[2] ?? '';
  }
  const stop = values['TimeoutStopSec'] ?? '';
  // A bare number in a unit file is seconds.
  const timeoutStopMs = parseSystemdTime(/^\d+$/.test(stop) ? `${stop}s` : stop);
  return settings(basename(path), `the unit file ${path}`, values, timeoutStopMs);
}

async function fromSystemctl(unit: string): Promise<UnitSettings | undefined> {
  const properties = 'Type,NotifyAccess,KillMode,TimeoutStopUSec,ExecReload';
  const stdout = await new Promise<string | undefined>((resolve) => {
    execFile(
      'systemctl',
      ['show', `--property=${properties}`, unit],
      { timeout: 3_000 },
      (error, out) => resolve(error ? undefined : out),
    );
  });
  if (stdout === undefined) return undefined;
  const values: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return settings(
    unit,
    `systemctl show ${unit}`,
    values,
    parseSystemdTime(values['TimeoutStopUSec'] ?? ''),
  );
}

function settings(
  unit: string,
  source: string,
  values: Record<string, string>,
  timeoutStopMs: number | undefined,
): UnitSettings {
  return {
    unit,
    source,
    type: values['Type'] ?? UNIT_DEFAULTS.Type,
    notifyAccess: values['NotifyAccess'] ?? UNIT_DEFAULTS.NotifyAccess,
    killMode: values['KillMode'] ?? UNIT_DEFAULTS.KillMode,
    timeoutStopMs,
    // systemctl shows "{ path=... }" for a set ExecReload, nothing for none.
    execReload: values['ExecReload'] ?? '',
  };
}
