import { spawn } from 'node:child_process';
import type { Server as NetServer } from 'node:net';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import { listenAsync } from './bind.js';

/** A duplicate of a listening socket's fd, held without accepting (a node TCP or Pipe handle). */
export interface HeldHandle {
  fd: number;
  close(): void;
}

/**
 * The helper: it receives the fds at 3.. and sends each back over its IPC channel, where the
 * kernel duplicates it (SCM_RIGHTS), as node's cluster module passes listening handles. The
 * handles only wrap the fds: nothing listens or accepts in the helper. It lives (its channel
 * ref'd) until this process has every handle and disconnects: node sends one handle at a time,
 * each after the previous one's acknowledgement, so a helper that left once its sends were
 * queued took the last ones along (all but one or two of 10 listeners).
 */
const HELPER = `const net = require('node:net');
const count = Number(process.argv[1]);
process.channel.ref();
for (let i = 0; i < count; i++) {
  const handle = net._createServerHandle(null, 0, -1, 3 + i);
  if (typeof handle === 'number') process.exit(2);
  process.send({ i }, handle);
}`;

/**
 * Duplicates of listening fds, held by this process without accepting, so that it can listen
 * on the same sockets again after it closed its own (node has no dup(2)): what a generation
 * keeps through its probation to take over again.
 */
export function duplicateListeningFds(
  fds: number[],
  signal?: AbortSignal,
  timeoutMs = 10_000,
): Promise<HeldHandle[]> {
  if (fds.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const received: HeldHandle[] = [];
    const child = spawn(process.execPath, ['-e', HELPER, String(fds.length)], {
      stdio: ['ignore', 'ignore', 'inherit', ...fds, 'ipc'],
    });
    /** Closes what came and ends the helper (its exit closes the fds it holds). */
    const giveUp = () => {
      clearTimeout(timer);
      for (const handle of received) handle?.close();
      received.length = 0;
      child.kill('SIGKILL');
    };
    const fail = (why: string) => {
      giveUp();
      reject(
        new GracefulRestartError(
          ErrorCodes.INTERNAL,
          `Cannot hold the listening sockets for a rollback: ${why}.`,
        ),
      );
    };
    const timer = setTimeout(
      () => fail(`the helper did not answer within ${timeoutMs} ms`),
      timeoutMs,
    );
    const count = () => received.filter(Boolean).length;
    let aborted = false;
    child.on('message', (message: { i: number }, handle: HeldHandle | undefined) => {
      if (aborted) return handle?.close();
      if (handle) received[message.i] = handle;
      if (count() === fds.length) child.disconnect();
    });
    child.once('error', (error) => fail(error.message));
    // Let go of (a shutdown, a closed server): the helper goes at once, and with it the port's
    // last fds; settled once it has exited.
    signal?.addEventListener(
      'abort',
      () => {
        if (child.exitCode !== null || child.signalCode !== null) return; // settled already
        aborted = true;
        giveUp();
      },
      { once: true },
    );
    // Resolved once the helper is gone too: until then it holds the sockets open, and a port a
    // shutdown let go of must be free again.
    child.once('exit', (code) => {
      if (aborted) return resolve([]);
      if (count() < fds.length)
        fail(`the helper exited with code ${code} after passing ${count()} of ${fds.length}`);
      else {
        clearTimeout(timer);
        resolve(received);
      }
    });
  });
}

/** Makes `server` listen again on a held duplicate of its socket; the handle is the server's now. */
export function listenOnHeld(
  server: NetServer,
  handle: HeldHandle,
  backlog: number,
): Promise<void> {
  // net.Server.listen() adopts a TCP handle object as it is; a Unix socket's by its fd.
  const isTcp = handle.constructor.name === 'TCP';
  return listenAsync(server, isTcp ? (handle as never) : { fd: handle.fd }, backlog);
}
