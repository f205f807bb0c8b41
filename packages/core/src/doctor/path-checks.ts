import { constants } from 'node:fs';
import { access, lstat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { type DoctorPlan, type Finding, fail, ok, skip } from './finding.js';

const writable = (dir: string): Promise<boolean> =>
  access(dir, constants.W_OK | constants.X_OK).then(
    () => true,
    () => false,
  );

/** The PID file's directory must exist and be this user's to write (a normal user cannot write /run). */
export async function checkPidFile(plan: DoctorPlan): Promise<Finding> {
  if (!plan.pidFile) return skip('pid file', 'none planned (give --pid-file FILE to check one)');
  const dir = dirname(plan.pidFile);
  if (await writable(dir)) return ok('pid file', `${dir} is writable`);
  return fail(
    'pid file',
    `${plan.pidFile}: this user (uid ${process.getuid?.()}) cannot write in ${dir}`,
    'Pick a directory this user owns (./app.pid), or in a systemd unit set RuntimeDirectory=app and use /run/app/app.pid.',
  );
}

/**
 * The control socket (under the supervisor): its directory must be writable, and a private
 * one must be this user's with mode 700; a supervisor answering there already is said.
 */
export async function checkControlSocket(plan: DoctorPlan): Promise<Finding> {
  if (!plan.supervised) return skip('control socket', 'only the supervisor has one (--supervisor)');
  const path = plan.controlPath;
  const dir = dirname(path);
  const stats = await lstat(dir).catch(() => undefined);
  if (stats) {
    const mine = stats.uid === process.getuid?.();
    if (!stats.isDirectory() || (!(await writable(dir)) && !mine)) {
      return fail(
        'control socket',
        `${dir} is not a directory this user may write: the supervisor cannot make ${path}`,
        'Give --control PATH (or GRACEFUL_RESTART_CONTROL) in a directory of your own.',
      );
    }
    if (dir.includes('graceful-restart-') && (!mine || (stats.mode & 0o077) !== 0)) {
      return fail(
        'control socket',
        `${dir} belongs to uid ${stats.uid} with mode ${(stats.mode & 0o777).toString(8)}; the supervisor refuses it`,
        'Remove it, or give --control PATH in a directory of your own.',
      );
    }
  } else if (!(await writable(dirname(dir)))) {
    return fail(
      'control socket',
      `${dir} does not exist and cannot be made here`,
      'Give --control PATH (or GRACEFUL_RESTART_CONTROL) in a directory of your own.',
    );
  }
  const answering = await new Promise<boolean>((resolve) => {
    const socket = createConnection(path, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  return ok(
    'control socket',
    answering ? `${path}: a supervisor answers there already` : `${path} can be made`,
  );
}
