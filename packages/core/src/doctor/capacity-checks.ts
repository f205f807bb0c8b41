import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { DEFAULTS } from '../defaults.js';
import { isUnixSpec, type TcpListenerSpec } from '../sockets/spec.js';
import { type DoctorPlan, type Finding, fail, ok, skip, warn } from './finding.js';

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * The kernel caps every listen backlog at net.core.somaxconn (per network namespace): after a
 * handover the clients a drain moves over reconnect within about a second, and those beyond the
 * backlog are dropped until their SYN is retried (a second or more later).
 */
export function checkSomaxconn(plan: DoctorPlan): Finding {
  const somaxconn = Number(read('/proc/sys/net/core/somaxconn'));
  if (!somaxconn) return skip('listen backlog', 'net.core.somaxconn cannot be read here');
  const needed = Math.min(plan.connections, DEFAULTS.minBacklog);
  const fix = `Raise it: sysctl -w net.core.somaxconn=${Math.max(plan.connections, DEFAULTS.fallbackBacklog)} (in a container: --sysctl net.core.somaxconn=..., in Kubernetes a pod sysctl).`;
  if (somaxconn < needed) {
    return fail(
      'listen backlog',
      `net.core.somaxconn is ${somaxconn}: every listen backlog is capped there, and the clients a restart moves over queue in it`,
      fix,
    );
  }
  if (somaxconn < plan.connections) {
    return warn(
      'listen backlog',
      `net.core.somaxconn is ${somaxconn}, below the ${plan.connections} connections expected: a burst of reconnects beyond it waits for SYN retries`,
      fix,
    );
  }
  return ok('listen backlog', `net.core.somaxconn is ${somaxconn}`);
}

/** During a handover both generations hold their connections: twice the expected, and some. */
export function checkOpenFiles(plan: DoctorPlan): Finding {
  const limits = read('/proc/self/limits') ?? '';
  const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
  if (!soft) return skip('open files', 'the open-file limit cannot be read here');
  if (soft === 'unlimited') return ok('open files', 'ulimit -n is unlimited');
  const needed = 2 * plan.connections + 100;
  if (Number(soft) < needed) {
    return fail(
      'open files',
      `ulimit -n is ${soft}: a handover holds the old and the new generation's connections at once, about ${needed} for ${plan.connections} connections`,
      `Raise it to ${needed} or more: LimitNOFILE=${Math.max(needed, 65536)} in the unit, ulimit -n in the shell, --ulimit nofile=... for docker.`,
    );
  }
  return ok(
    'open files',
    `ulimit -n is ${soft} (${needed} needed for ${plan.connections} connections)`,
  );
}

/**
 * Under the supervisor a reload runs the old and the new workers side by side: 2N at the peak,
 * N+K with `--reload-batch K`.
 */
export function checkMemory(plan: DoctorPlan): Finding {
  const available = memoryAvailableMb();
  if (available === undefined) return skip('memory', 'the available memory cannot be read here');
  const peak = plan.workers + plan.reloadBatch;
  const needed = peak * plan.workerMemoryMb;
  const says = `${available} MiB available; a restart runs ${peak} processes of about ${plan.workerMemoryMb} MiB (--worker-memory) at its peak`;
  if (available < needed) {
    return warn(
      'memory',
      says,
      `Give the service ${needed} MiB or more, fewer workers (--workers), or replace fewer at a time (--reload-batch).`,
    );
  }
  return ok('memory', says);
}

/** MemAvailable, or what the cgroup's limit leaves when that is lower. */
function memoryAvailableMb(): number | undefined {
  const meminfo = /^MemAvailable:\s+(\d+) kB/m.exec(read('/proc/meminfo') ?? '')?.[1];
  const host = meminfo ? Number(meminfo) / 1024 : undefined;
  const max = read('/sys/fs/cgroup/memory.max')?.trim();
  const current = Number(read('/sys/fs/cgroup/memory.current'));
  const cgroup = max && max !== 'max' ? (Number(max) - current) / 1024 / 1024 : undefined;
  const values = [host, cgroup].filter((v): v is number => v !== undefined && Number.isFinite(v));
  return values.length > 0 ? Math.floor(Math.min(...values)) : undefined;
}

/** A port someone else already holds: the app's first start fails to bind it. */
export async function checkPorts(plan: DoctorPlan): Promise<Finding[]> {
  const tcp = plan.listeners.filter((spec): spec is TcpListenerSpec => !isUnixSpec(spec));
  if (tcp.length === 0) return [];
  return Promise.all(tcp.map((spec) => checkPort(spec)));
}

function checkPort(spec: TcpListenerSpec): Promise<Finding> {
  const address = `${spec.host ?? DEFAULTS.host}:${spec.port}`;
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      resolve(
        warn(
          `port ${address}`,
          `cannot bind it now (${error.code}): in use by the running service is fine, by anything else the first start fails`,
          error.code === 'EACCES'
            ? 'Ports below 1024 need root or CAP_NET_BIND_SERVICE (AmbientCapabilities= in the unit).'
            : `Find the holder: ss -ltnp 'sport = :${spec.port}'.`,
        ),
      );
    });
    server.listen(
      { host: spec.host ?? DEFAULTS.host, port: Number(spec.port), exclusive: true },
      () => server.close(() => resolve(ok(`port ${address}`, 'free'))),
    );
  });
}
