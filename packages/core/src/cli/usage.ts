import { DEFAULTS } from '../defaults.js';
import { SupervisorExitCodes } from '../supervisor/options.js';

/** A bad command line: the CLI prints it with the command's usage and exits 2. */
export class UsageError extends Error {}

export const CliCommands = ['run', 'reload', 'status', 'stop', 'doctor'] as const;
export type CliCommand = (typeof CliCommands)[number];

const CONTROL = `      --control PATH         the supervisor's control socket (default: $GRACEFUL_RESTART_CONTROL,
                             else $XDG_RUNTIME_DIR/graceful-restart.sock, else in a directory
                             of this user's in the temp dir)`;

const EXIT_CODES = `Exit codes: ${SupervisorExitCodes.CLEAN} stopped cleanly, ${SupervisorExitCodes.FAILED} failed (bind, control socket, a drain cut at
      its deadline), ${SupervisorExitCodes.USAGE} usage, ${SupervisorExitCodes.GAVE_UP} gave up after repeated worker failures.`;

/** Each command's usage: what `graceful-restart <command> --help` prints. */
const COMMAND_USAGE: Record<CliCommand, string> = {
  run: `graceful-restart run [options] -- <command> [args...]
      Supervise <command> (e.g. node app.js) with a stable pid: hold the listeners, start the
      app as a worker with them, replace it on SIGHUP or "reload", restart it after a crash.
      e.g. graceful-restart run --listen 3000 -- node server.mjs
      --listen, -l SPEC      port | host:port | name=host:port | name=unix:/path[,mode=0660]
                             (repeatable; the name defaults to "${DEFAULTS.listenerName}", the host to
                             ${DEFAULTS.host}); or none under socket activation (LISTEN_FDS)
      --pid-file FILE        write the supervisor's pid (it never changes)
      --ready-timeout TIME   how long a worker may take to say ready (default ${DEFAULTS.readyTimeoutMs / 1000}s)
      --workers N|auto       how many workers serve side by side on the same listeners
                             (default 1; auto: one per available CPU); a reload replaces
                             them all, a crash only the one that died
      --reload-batch K       a reload replaces K workers at a time, each batch after the last
                             passed its probation: at most N+K run (default: all N at once)
      --max-restarts N       consecutive failed worker starts before giving up (default ${DEFAULTS.maxRestarts})
      --probation TIME       after a reload the old worker holds on this long; if the new one
                             dies meanwhile, the old one serves again and reload fails
                             (default $GRACEFUL_RESTART_PROBATION_MS ms, else
                             ${DEFAULTS.probationMs / 1000}s; 0 turns it off)
      --lame-duck TIME       on stop, the workers serve on this long first, readiness 503 and
                             Connection: close, until the load balancer has moved off (ends
                             sooner once it visibly has; a second signal skips it); default
                             $GRACEFUL_RESTART_LAME_DUCK_MS ms, else 5s under Kubernetes and
                             Nomad, else 0 (none)
      --cwd DIR              the workers' directory, followed anew at every start (a release
                             directory's current/); default: $GRACEFUL_RESTART_CWD, else the
                             directory this was started from as $PWD names it
${CONTROL}
      ${EXIT_CODES}`,
  reload: `graceful-restart reload [--control PATH]
      Replace the supervisor's workers, and wait until the new ones serve and have passed their
      probation. Exit 0 when they did, 1 when the reload failed (the old workers serve on).
${CONTROL}`,
  status: `graceful-restart status [--control PATH]
      Print the supervisor's state as JSON (pids, workers, draining, listeners, reloads).
${CONTROL}`,
  stop: `graceful-restart stop [--control PATH]
      Drain the workers and stop the supervisor; waits until it has exited.
${CONTROL}`,
  doctor: `graceful-restart doctor [options]
      Run where the app will run (in its unit or container): checks whether a zero-downtime
      restart is possible here, and says what to fix. Exit 0 when it is, 1 when it is not.
      --supervisor           the app will run under graceful-restart run (default: directly)
      --workers N|auto       the supervisor's workers (implies --supervisor): memory for a reload
      --listen, -l SPEC      the listeners the app will use (as for run): ports free, fd names
      --connections N        connections expected at once (default 1000): against ulimit -n
                             and net.core.somaxconn
      --reload-batch K       workers a reload replaces at a time (as for run): memory for N+K
      --worker-memory MB     one app process's memory (default 150): a restart runs two sets
      --pid-file FILE        the PID file the app or the supervisor will write
      --unit NAME|FILE       a systemd unit (by name, read with systemctl; or its file):
                             Type, NotifyAccess, KillMode, TimeoutStopSec, ExecReload;
                             default: the unit doctor runs in, if any
      --drain-deadline TIME  the app's drain deadline (default ${DEFAULTS.deadlineMs / 1000}s)
      --lame-duck TIME       the lame duck on stop (default as the app would pick it)
      --json                 the findings as JSON
${CONTROL}`,
};

const SUMMARY = `Usage:
  graceful-restart run [options] -- <command> [args...]   supervise an app with a stable pid
  graceful-restart reload    replace the workers; exit 1 if that failed
  graceful-restart status    print the supervisor's state as JSON
  graceful-restart stop      drain the workers and stop; waits for the exit
  graceful-restart doctor    check whether a zero-downtime restart is possible here
  graceful-restart <command> --help   that command's options
  graceful-restart --version`;

/** The usage of one command, or the whole summary. */
export function usage(command?: CliCommand): string {
  return command ? `Usage:\n  ${COMMAND_USAGE[command]}` : SUMMARY;
}

/** `run` without listeners: the two ways to give them. */
export const NO_LISTENERS = `run: no listeners to hold. Give them one of two ways:
  --listen 3000            (or --listen web=127.0.0.1:3000; repeatable) the supervisor binds them
  socket activation        start it from a systemd .socket unit, or under
                           systemd-socket-activate -l 3000 graceful-restart run -- ...
The app takes them by name in graceful.listen() (or fastify.listen()), as it would bind them.`;
