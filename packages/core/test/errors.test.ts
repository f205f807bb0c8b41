import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { importPeer } from '../src/adapter.js';
import { AdminRoute } from '../src/admin/route.js';
import {
  type ErrorCode,
  ErrorCodes,
  GracefulRestartError,
  isGracefulRestartError,
  toGracefulError,
} from '../src/errors.js';
import { decodeManifest } from '../src/handover/manifest.js';
import { errorFromWire } from '../src/handover/outcome.js';
import type { GracefulOptions } from '../src/options.js';
import { defaultProbationMs } from '../src/options.js';
import { refuseUnsupportedPlatform } from '../src/platform.js';
import { SignalHandlers } from '../src/signals.js';
import { takeSocketActivation } from '../src/sockets/activation.js';
import { bindUnix } from '../src/sockets/bind.js';
import { checkSocketFd } from '../src/sockets/fds.js';
import { handleFactory, holdListeners } from '../src/sockets/held.js';
import { validateSpec } from '../src/sockets/spec.js';
import { sendControl } from '../src/supervisor/control.js';
import type { ControlCommand } from '../src/supervisor/control-protocol.js';
import { Supervisor } from '../src/supervisor/supervisor.js';
import { releasedAfterEach } from './helpers/graceful.js';
import { tempDir } from './helpers/process.js';

const silent = { info() {}, warn() {}, error() {} };
const noop = { restart() {}, shutdown() {} };
const createGraceful = releasedAfterEach();
const quiet = () => createGraceful({ signals: false, logger: false });
const servers: Server[] = [];
const server = () => {
  const s = createServer();
  servers.push(s);
  return s;
};
afterAll(() => {
  for (const s of servers) s.close();
});

async function caught(fn: () => unknown): Promise<GracefulRestartError> {
  try {
    await fn();
  } catch (error) {
    if (isGracefulRestartError(error)) return error;
    throw error;
  }
  throw new Error('expected a GracefulRestartError');
}

// One row per error code that a bad input can produce in-process; each asserts the code and
// that the message names the fix. Codes raised only across processes are covered by the
// integration suites (CROSS_PROCESS below says where); a test checks that every code is in one
// of the two.
const CROSS_PROCESS: Partial<Record<ErrorCode, string>> = {
  [ErrorCodes.CHILD_EXITED]: 'restart.int.test.ts',
  [ErrorCodes.READY_TIMEOUT]: 'restart.int.test.ts',
  [ErrorCodes.RESTART_ABORTED]: 'restart.int.test.ts',
  [ErrorCodes.SPAWN_FAILED]: 'restart.int.test.ts',
  [ErrorCodes.FD_ADDRESS_MISMATCH]: 'listeners.int.test.ts',
  [ErrorCodes.LISTENER_NOT_SUPERVISED]: 'supervisor.int.test.ts',
  [ErrorCodes.DIRECT_RESTART_UNSAFE]: 'direct-restart-hazards.int.test.ts',
  [ErrorCodes.ROLLED_BACK]: 'probation-verdict.int.test.ts',
  [ErrorCodes.CONTROL_SOCKET_UNSAFE]: 'control-socket.int.test.ts',
};
const rows: Array<[ErrorCode, () => unknown, RegExp]> = [
  [
    ErrorCodes.INVALID_OPTION,
    () => createGraceful({ readyTimeoutMs: -1, signals: false }),
    /readyTimeoutMs/,
  ],
  [ErrorCodes.INVALID_LISTENER, () => validateSpec({ port: 70000 }), /port must be/],
  [
    ErrorCodes.INVALID_LISTENER,
    () => validateSpec({ port: '30x0' }),
    /port must be an integer from 0 to 65535, or a string of its digits \(got the string "30x0"\)/,
  ],
  [
    ErrorCodes.INVALID_OPTION,
    () => createGraceful({ readyTimeout: 5 } as GracefulOptions),
    /Unknown option "readyTimeout": did you mean "readyTimeoutMs"\? Valid options: readyTimeoutMs, /,
  ],
  [
    ErrorCodes.INVALID_OPTION,
    () => createGraceful({ pidfile: '/tmp/x.pid' } as GracefulOptions),
    /Unknown option "pidfile": did you mean "pidFile"\?/,
  ],
  [
    ErrorCodes.INVALID_OPTION,
    () => createGraceful({ drain: { deadline: 5 } } as GracefulOptions),
    /Unknown option "drain.deadline": did you mean "drain.deadlineMs"\?/,
  ],
  [
    ErrorCodes.INVALID_OPTION,
    () => createGraceful({ zzz: 1 } as GracefulOptions),
    /Unknown option "zzz"\. Valid options:/,
  ],
  [
    ErrorCodes.INVALID_OPTION,
    () => createGraceful({ env: { PORT: 3000 } } as never),
    /env\.PORT must be a string, or undefined to remove it \(got number 3000\)/,
  ],
  [
    ErrorCodes.INVALID_OPTION,
    () => createGraceful({ exitProcess: 'no' } as never),
    /exitProcess must be true or false \(got the string "no"\)/,
  ],
  [
    ErrorCodes.INVALID_OPTION,
    () => new AdminRoute(quiet(), { tokn: 'x'.repeat(40) } as never, silent),
    /Unknown option "admin.tokn": did you mean "admin.token"\?/,
  ],
  [
    ErrorCodes.INVALID_SIGNAL,
    () => createGraceful({ signals: ['SIGHUP'] as never, logger: false }),
    /signals must be \{ restart\?: \[\.\.\.\], shutdown\?: \[\.\.\.\] \} or false \(got an array \["SIGHUP"\]\)/,
  ],
  [
    ErrorCodes.INVALID_SIGNAL,
    () => createGraceful({ signals: { restart: 'SIGHUP' as never }, logger: false }),
    /signals.restart must be an array of signal names/,
  ],
  [
    ErrorCodes.INVALID_OPTION,
    () => createGraceful({ signals: { reload: ['SIGHUP'] } as never, logger: false }),
    /Unknown option "signals.reload"/,
  ],
  [
    ErrorCodes.DUPLICATE_INSTANCE,
    () => {
      // One that handles signals (the default) and any other: both would restart the process.
      createGraceful({ logger: false, exitProcess: false });
      quiet();
    },
    /already exists in this process .* listen on every server through it/,
  ],
  [
    ErrorCodes.PLATFORM_UNSUPPORTED,
    () => refuseUnsupportedPlatform('win32'),
    /Linux and other Unix systems .* WSL or in a Linux container/,
  ],
  [
    ErrorCodes.PID_FILE_FAILED,
    () => createGraceful({ signals: false, logger: false, pidFile: '/nonexistent-dir/app.pid' }),
    /Cannot write the PID file \/nonexistent-dir\/app.pid: .*directory exists/,
  ],
  [ErrorCodes.INVALID_LISTENER, () => validateSpec({ name: 'bad name!', port: 1 }), /name must be/],
  [
    ErrorCodes.INVALID_LISTENER,
    () => validateSpec({ port: 1, backlog: 0 }),
    /backlog must be an integer from 1 to 65535/,
  ],
  [
    ErrorCodes.INVALID_LISTENER,
    () => validateSpec({ path: '/tmp/a.sock', backlog: 1.5 }),
    /backlog must be/,
  ],
  [ErrorCodes.INVALID_LISTENER, () => validateSpec({ path: '' }), /path is empty/],
  [
    ErrorCodes.INVALID_LISTENER,
    () => validateSpec({ name: 'web', host: 'localhost', port: 3000 }),
    /"localhost" is a name.*one listener per address/,
  ],
  [
    ErrorCodes.MANIFEST_INVALID,
    () => decodeManifest('{not json'),
    /not JSON.*unset GRACEFUL_RESTART_MANIFEST/,
  ],
  [ErrorCodes.MANIFEST_INVALID, () => decodeManifest('{"version":2}'), /unknown version/],
  [
    ErrorCodes.MANIFEST_INVALID,
    () =>
      decodeManifest(
        '{"version":1,"parentPid":1,"readyFd":3,"listeners":[{"name":"a","kind":"tcp","fd":1}]}',
      ),
    /fd >= 3/,
  ],
  [
    ErrorCodes.MANIFEST_INVALID,
    () =>
      decodeManifest(
        '{"version":1,"parentPid":1,"readyFd":3,"listeners":[{"name":"a","kind":"udp","fd":4}]}',
      ),
    /unknown kind/,
  ],
  [ErrorCodes.FD_CLOSED, () => checkSocketFd(987, 'web'), /fd 987 is not open/],
  [
    ErrorCodes.FD_NOT_SOCKET,
    () => checkSocketFd(openSync('/dev/null', 'r'), 'web'),
    /not a socket/,
  ],
  [
    ErrorCodes.LISTEN_PID_MISMATCH,
    () => takeSocketActivation({ LISTEN_PID: '1', LISTEN_FDS: '1' }),
    /another process/,
  ],
  [
    ErrorCodes.SOCKET_ACTIVATION_INVALID,
    () => takeSocketActivation({ LISTEN_PID: String(process.pid), LISTEN_FDS: 'x' }),
    /LISTEN_FDS/,
  ],
  [
    ErrorCodes.SOCKET_ACTIVATION_INVALID,
    () => takeSocketActivation({ LISTEN_FDS: '2', LISTEN_FDNAMES: 'a' }),
    /FileDescriptorName/,
  ],
  [
    ErrorCodes.INVALID_SIGNAL,
    // @ts-expect-error the types refuse an uncatchable signal too
    () => new SignalHandlers({ shutdown: ['SIGKILL'] }, noop, silent),
    /cannot be caught/,
  ],
  [
    ErrorCodes.INVALID_SIGNAL,
    () => new SignalHandlers({ restart: ['SIGNOPE' as 'SIGHUP'] }, noop, silent),
    /not a signal name/,
  ],
  [
    ErrorCodes.INVALID_SIGNAL,
    () => new SignalHandlers({ restart: ['SIGHUP'], shutdown: ['SIGHUP'] }, noop, silent),
    /one role/,
  ],
  [
    ErrorCodes.INVALID_STATE,
    () => createGraceful({ signals: false, logger: false }).restart(),
    /still starting/,
  ],
  [
    ErrorCodes.INVALID_OPTION,
    () => createGraceful({ pidFile: '', signals: false }),
    /pidFile must be/,
  ],
  [
    ErrorCodes.INVALID_OPTION,
    () => createGraceful({ probationMs: -5, signals: false }),
    /probationMs must be a non-negative number of milliseconds \(got number -5\)/,
  ],
  [
    ErrorCodes.INVALID_OPTION,
    () => defaultProbationMs({ GRACEFUL_RESTART_PROBATION_MS: '2s' }),
    /GRACEFUL_RESTART_PROBATION_MS must be a whole number of milliseconds, e\.g\. 2000 \(got "2s"\)/,
  ],
  [
    ErrorCodes.INVALID_OPTION,
    () => createGraceful({ cwd: '', signals: false }),
    /cwd must be a non-empty directory path/,
  ],
  [
    ErrorCodes.INVALID_OPTION,
    () => createGraceful({ drain: { keepAliveHint: 'yes' as never }, signals: false }),
    /keepAliveHint must be true or false/,
  ],
  [
    ErrorCodes.INVALID_LISTENER,
    () => validateSpec({ path: '/tmp/x.sock', mode: 0o1777 }),
    /mode must be/,
  ],
  [
    ErrorCodes.DUPLICATE_LISTENER,
    async () => {
      const graceful = quiet();
      await graceful.listen(server(), { name: 'web', port: 0 });
      await graceful.listen(server(), { name: 'web', port: 0 });
    },
    /declared twice/,
  ],
  [
    ErrorCodes.SERVER_UNSUPPORTED,
    async () => {
      const listening = server().listen(0, '127.0.0.1');
      await new Promise((r) => listening.once('listening', r));
      await quiet().listen(listening, { port: 0 });
    },
    /already listening/,
  ],
  [
    ErrorCodes.BIND_FAILED,
    async () => {
      const taken = server().listen(0, '127.0.0.1');
      await new Promise((r) => taken.once('listening', r));
      await quiet().listen(server(), {
        name: 'web',
        port: (taken.address() as { port: number }).port,
      });
    },
    /EADDRINUSE.*another process holds it/,
  ],
  [
    ErrorCodes.INVALID_STATE,
    async () => {
      const graceful = quiet();
      await graceful.ready();
      await graceful.listen(server(), { port: 0 });
    },
    /before ready\(\)/,
  ],

  [
    ErrorCodes.SUPERVISOR_UNREACHABLE,
    () => sendControl(`${tempDir()}/no-supervisor.sock`, 'status'),
    /No supervisor answers on .*no-supervisor\.sock \(ENOENT\).*--control PATH/,
  ],
  [
    ErrorCodes.INVALID_OPTION,
    () => new Supervisor({ command: [], listeners: [], controlPath: '/tmp/x.sock', logger: false }),
    /No worker command: give it after "--"/,
  ],
  [
    ErrorCodes.INVALID_LISTENER,
    () =>
      new Supervisor({
        command: ['node', 'app.js'],
        listeners: [{ name: 'web', host: 'localhost', port: 3000 }],
        controlPath: '/tmp/x.sock',
        logger: false,
      }),
    /is a name, not an address/,
  ],
  [
    ErrorCodes.NO_LISTENERS,
    () => holdListeners([], silent, {}),
    /No listeners: give --listen name=host:port/,
  ],
  [
    ErrorCodes.DUPLICATE_LISTENER,
    () =>
      holdListeners(
        [
          { name: 'web', port: 0 },
          { name: 'web', port: 0 },
        ],
        silent,
        {},
      ),
    /--listen names "web" twice/,
  ],
  [
    ErrorCodes.SOCKET_ACTIVATION_UNMATCHED,
    () =>
      holdListeners([], silent, {
        LISTEN_PID: String(process.pid),
        LISTEN_FDS: '2',
        LISTEN_FDNAMES: 'a.socket:b.socket',
      }),
    /fd 3 \(a\.socket\), fd 4 \(b\.socket\).*listeners "web".*FileDescriptorName=web/,
  ],
  [
    ErrorCodes.NODE_UNSUPPORTED,
    () => handleFactory({}),
    /no net\._createServerHandle.*Use Node 20\.19\+/,
  ],
  [
    ErrorCodes.PEER_DEPENDENCY_MISSING,
    () =>
      importPeer(
        () => import('@graceful-restart/not-installed' as string),
        '@fastify/under-pressure',
        'underPressure',
      ),
    /underPressure needs @fastify\/under-pressure: install it/,
  ],
  [
    ErrorCodes.INTERNAL,
    () => {
      throw toGracefulError(new TypeError('boom'), 'Restart failed');
    },
    /Restart failed: boom/,
  ],
  [
    ErrorCodes.INTERNAL,
    () => {
      throw errorFromWire({ code: 'ERR_GRACEFUL_FROM_THE_FUTURE' as ErrorCode, message: 'new' });
    },
    /new/,
  ],
  [
    ErrorCodes.UNKNOWN_COMMAND,
    async () => {
      const path = `${tempDir()}/control.sock`;
      const supervisor = new Supervisor({
        command: ['node', '-e', ''],
        listeners: [],
        controlPath: path,
        logger: false,
      });
      const { ControlServer } = await import('../src/supervisor/control.js');
      const control = await ControlServer.open(path, {
        reload: () => supervisor.reload(),
        status: () => supervisor.status(),
        stop: () => undefined,
      });
      try {
        const reply = await sendControl(path, 'restart' as ControlCommand);
        if (!reply.ok) throw errorFromWire(reply);
      } finally {
        await control.close();
      }
    },
    /Unknown control command "restart"; use reload, status or stop/,
  ],
  [
    ErrorCodes.UNIX_PATH_NOT_SOCKET,
    () => {
      const path = `${tempDir()}/file`;
      writeFileSync(path, '');
      return bindUnix(createServer(), { path }, 'web');
    },
    /not a socket/,
  ],
];

describe('typed errors', () => {
  it.each(rows)('%s', async (code, fn, message) => {
    const error = await caught(fn);
    expect(error).toBeInstanceOf(GracefulRestartError);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('every code has a row here or a named cross-process test', () => {
    const inRows = new Set(rows.map(([code]) => code));
    const others: ErrorCode[] = [
      // UNIX_PATH_IN_USE: a test below this table. FD_NOT_LISTENING: listeners.int.test.ts's
      // socket activation suite hands a connected and a datagram socket to a server.
      ErrorCodes.FD_NOT_LISTENING,
      ErrorCodes.UNIX_PATH_IN_USE,
    ];
    const missing = Object.values(ErrorCodes).filter(
      (code) => !inRows.has(code) && !(code in CROSS_PROCESS) && !others.includes(code),
    );
    expect(missing).toEqual([]);
    // Each named test exists and asserts its code.
    for (const [code, file] of Object.entries(CROSS_PROCESS)) {
      const text = readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');
      const name = Object.entries(ErrorCodes).find(([, value]) => value === code)?.[0];
      expect(text.includes(code) || text.includes(`ErrorCodes.${name}`), `${code} in ${file}`).toBe(
        true,
      );
    }
  });

  it('every code is distinct and prefixed', () => {
    const codes = Object.values(ErrorCodes);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^ERR_GRACEFUL_[A-Z_]+$/);
  });

  it('listen() reports a bad listener or a late call by rejecting, never by throwing', async () => {
    const graceful = quiet();
    const bad = graceful.listen(server(), { name: 'web', port: 70000 });
    expect(bad).toBeInstanceOf(Promise);
    await expect(bad).rejects.toMatchObject({ code: ErrorCodes.INVALID_LISTENER });
    await graceful.ready();
    const late = graceful.listen(server(), { name: 'late', port: 0 });
    expect(late).toBeInstanceOf(Promise);
    await expect(late).rejects.toMatchObject({ code: ErrorCodes.INVALID_STATE });
  });

  it('UNIX_PATH_IN_USE when a live server holds the path', async () => {
    const path = `${tempDir()}/live.sock`;
    const live = createServer().listen(path);
    await new Promise((r) => live.once('listening', r));
    const error = await caught(() => bindUnix(createServer(), { path }, 'web'));
    expect(error.code).toBe(ErrorCodes.UNIX_PATH_IN_USE);
    expect(error.listener).toBe('web');
    live.close();
  });
});
