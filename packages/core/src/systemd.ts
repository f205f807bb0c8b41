import { spawn } from 'node:child_process';
import type { Logger } from './logger.js';

/**
 * sd_notify(3) for a process whose main pid changes at every restart.
 *
 * Node cannot open the AF_UNIX datagram socket NOTIFY_SOCKET names, so each message is sent by
 * systemd's own `systemd-notify` tool. systemd then sees the tool, not the main process, as the
 * sender: the unit needs `NotifyAccess=all` (which MAINPID= hand-overs need anyway). The tool
 * waits until the manager has processed the message (a BARRIER=1 round trip, systemd >= 246),
 * so a message is never dropped because its sender exited first (each send spawns the tool).
 */
export class SystemdNotifier {
  private disabled = false;
  /** Messages go out one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    private readonly socketPath: string,
    private readonly log: Logger,
    private readonly command: string,
  ) {}

  /** A notifier when the service manager asked for notifications (NOTIFY_SOCKET is set). */
  static fromEnv(
    log: Logger,
    env: NodeJS.ProcessEnv = process.env,
    command = 'systemd-notify',
  ): SystemdNotifier | undefined {
    const socketPath = env['NOTIFY_SOCKET'];
    return socketPath ? new SystemdNotifier(socketPath, log, command) : undefined;
  }

  /** This generation serves. A successor also names itself the service's main pid. */
  ready(pid: number, successor: boolean): Promise<void> {
    return this.send(
      successor
        ? { MAINPID: String(pid), READY: '1', STATUS: `serving (pid ${pid})` }
        : { READY: '1', STATUS: `serving (pid ${pid})` },
    );
  }

  /** A restart started (what Type=notify-reload expects; READY=1 ends it). */
  reloading(): Promise<void> {
    // CLOCK_MONOTONIC in microseconds: libuv's hrtime reads that clock.
    const usec = process.hrtime.bigint() / 1000n;
    return this.send({ RELOADING: '1', MONOTONIC_USEC: String(usec), STATUS: 'restarting' });
  }

  /** A restart failed: the old generation still serves and ends the reload itself. */
  restartFailed(reason: string): Promise<void> {
    return this.send({ READY: '1', STATUS: `restart failed, still serving: ${reason}` });
  }

  stopping(): Promise<void> {
    return this.send({ STOPPING: '1', STATUS: 'shutting down' });
  }

  /** Resolves once every message queued so far has been handled (call before exiting). */
  flush(): Promise<void> {
    return this.queue;
  }

  private send(fields: Record<string, string>): Promise<void> {
    const args = Object.entries(fields).map(
      ([key, value]) => `${key}=${value.replace(/\n/g, ' ')}`,
    );
    this.queue = this.queue.then(() => this.run(args));
    return this.queue;
  }

  private run(args: string[]): Promise<void> {
    if (this.disabled) return Promise.resolve();
    return new Promise((resolve) => {
      const child = spawn(this.command, args, {
        env: { ...process.env, NOTIFY_SOCKET: this.socketPath },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      child.on('error', (error: NodeJS.ErrnoException) => {
        this.disabled = true;
        this.log.warn(
          error.code === 'ENOENT'
            ? `NOTIFY_SOCKET is set but ${this.command} is not installed (Debian: the systemd package); systemd will not be notified`
            : `cannot run ${this.command}: ${error.message}; systemd will not be notified`,
        );
        resolve();
      });
      child.on('close', (code) => {
        if (code !== 0 && code !== null)
          this.log.warn(`${this.command} ${args[0]} failed (exit ${code}): ${stderr.trim()}`);
        resolve();
      });
    });
  }
}
