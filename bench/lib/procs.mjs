// Processes the benchmark starts: spawned, watched through /proc, ended by their pid only.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** State from /proc; a zombie (Z) has exited (PID 1 here may not reap). */
export function isAlive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat[stat.lastIndexOf(')') + 2];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** CPU time (user + system) `pid` has used, in ms; 0 once it is gone. */
export function cpuMsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** Resident set size of `pid` in bytes, 0 once it is gone. */
export function rssOf(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** `root` and every live process below it. */
export function treeOf(root) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {}
  }
  const found = [root];
  for (const pid of found) found.push(...(children.get(pid) ?? []));
  return found.filter(isAlive);
}

/** Waits until `pid` has exited; resolves with the time it was first seen gone. */
export async function exitOf(pid, limitMs = 30_000, stepMs = 2) {
  const end = performance.now() + limitMs;
  while (performance.now() < end) {
    if (!isAlive(pid)) return performance.now();
    await sleep(stepMs);
  }
  return undefined;
}

/**
 * Spawns `node args` with stdout lines parsed as JSON events; `waitFor(event)` resolves on one.
 * `options.cpu` pins the process to that CPU (taskset execs node, so the pid is node's).
 */
export function start(args, env = {}, options = {}) {
  const node = options.execPath ?? process.execPath;
  const [file, argv] =
    options.cpu === undefined
      ? [node, args]
      : ['taskset', ['-c', String(options.cpu), node, ...args]];
  const child = spawn(file, argv, {
    env: { ...process.env, ...env },
    // stderr kept (last lines) for a failure message, not printed: supervisors log every reload.
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: options.cwd,
  });
  const events = [];
  const stderr = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > 50) stderr.shift();
  });
  const waiters = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      return;
    }
    events.push(event);
    for (const w of [...waiters]) {
      if (w.match(event)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(event);
      }
    }
  });
  const waitFor = (match, limitMs = 20_000) =>
    new Promise((resolve, reject) => {
      const seen = events.find(match);
      if (seen) return resolve(seen);
      const timer = setTimeout(() => reject(new Error('no such event in time')), limitMs);
      waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  return { child, events, stderr, waitFor };
}

/** Ends the processes `pids` (ours), SIGTERM then SIGKILL. */
export async function endAll(pids) {
  for (const pid of pids)
    if (isAlive(pid))
      try {
        process.kill(pid, 'SIGTERM');
      } catch {}
  const end = performance.now() + 10_000;
  while (pids.some(isAlive) && performance.now() < end) await sleep(20);
  for (const pid of pids)
    if (isAlive(pid))
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
}

/**
 * CPU time every thread of `pid` has run, in ns (the first field of each task's schedstat):
 * stat's clock ticks are 10 ms, too coarse to tell a 1 % cost over a few seconds.
 */
export function cpuNsOf(pid) {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {}
  }
  return ns;
}
