import { createConnection, createServer, type Server, type Socket } from 'node:net';
import {
  ErrorCodes,
  GracefulRestartError,
  isGracefulRestartError,
  toGracefulError,
} from '../errors.js';
import { LineChannel } from '../handover/channel.js';
import { errorToWire, type RestartResult } from '../handover/outcome.js';
import { bindUnix, removeUnixPath } from '../sockets/bind.js';
import { checkControlOwner, foreignOwner, prepareControlDirectory } from './control-path.js';
import {
  type ControlCommand,
  ControlCommands,
  type ControlReply,
  type ControlRequest,
  type SupervisorStatus,
} from './control-protocol.js';

export interface ControlHandlers {
  reload(): Promise<RestartResult>;
  status(): SupervisorStatus;
  stop(): void;
}

/**
 * The supervisor's control socket: `graceful-restart reload | status | stop` send one JSON line
 * and read one back (the messages are in control-protocol.ts). A Unix socket with mode 0600, so
 * only its owner (and root) may use it. A `reload` or `stop` that comes while the supervisor
 * is still starting is carried out once it has started (start()): as answered, never dropped.
 */
export class ControlServer {
  private constructor(
    private readonly server: Server,
    private readonly path: string,
    private readonly ino: number,
    private readonly connections: Set<Socket>,
    private readonly started: { promise: Promise<void>; resolve: () => void },
  ) {}

  static async open(path: string, handlers: ControlHandlers): Promise<ControlServer> {
    await prepareControlDirectory(path);
    const connections = new Set<Socket>();
    let resolve: () => void = () => undefined;
    const started = { promise: new Promise<void>((r) => (resolve = r)), resolve: () => resolve() };
    const server = createServer((socket) => {
      connections.add(socket);
      socket.once('close', () => connections.delete(socket));
      serveConnection(socket, handlers, started.promise);
    });
    let ino: number;
    try {
      ino = await bindUnix(server, { path, mode: 0o600 }, 'control');
    } catch (error) {
      if (isGracefulRestartError(error, ErrorCodes.UNIX_PATH_IN_USE)) {
        const owner = await foreignOwner(path);
        throw new GracefulRestartError(
          owner === undefined ? ErrorCodes.UNIX_PATH_IN_USE : ErrorCodes.CONTROL_SOCKET_UNSAFE,
          owner === undefined
            ? `Another supervisor answers on the control socket ${path}. Stop it ` +
                `(graceful-restart stop --control ${path}) or give this one its own --control path.`
            : `A socket of uid ${owner}, another user, answers on the control socket path ${path}; ` +
                'it is not one of your supervisors. Give this one a --control path in a directory of your own.',
        );
      }
      throw error;
    }
    return new ControlServer(server, path, ino, connections, started);
  }

  /** The supervisor has started: commands that came meanwhile are carried out now. */
  start(): void {
    this.started.resolve();
  }

  /** Stops answering; open connections (a `stop` client waiting for the end) are closed. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.connections) socket.destroy();
    await closed;
    await removeUnixPath(this.path, this.ino);
  }
}

function serveConnection(socket: Socket, handlers: ControlHandlers, started: Promise<void>): void {
  const channel = new LineChannel<ControlRequest, ControlReply>(socket);
  channel.once('message', async (request) => {
    // Acting commands wait until the supervisor has started; then they are carried out.
    if (request.type === 'reload' || request.type === 'stop') await started;
    const fail = (error: unknown) => {
      channel.send({ ok: false, ...errorToWire(toGracefulError(error, 'Control command failed')) });
      socket.end();
    };
    if (!(ControlCommands as readonly unknown[]).includes(request.type)) {
      fail(
        new GracefulRestartError(
          ErrorCodes.UNKNOWN_COMMAND,
          `Unknown control command ${JSON.stringify(request.type)}; use reload, status or stop.`,
        ),
      );
      return;
    }
    switch (request.type) {
      case 'reload':
        handlers.reload().then((result) => {
          channel.send({ ok: true, result });
          socket.end();
        }, fail);
        return;
      case 'status':
        channel.send({ ok: true, status: handlers.status() });
        socket.end();
        return;
      case 'stop':
        // The connection stays open: the client sees it close when the supervisor has exited.
        channel.send({ ok: true, stopping: true });
        handlers.stop();
        return;
    }
  });
}

/**
 * Sends one command to the supervisor at `path`; resolves with its reply. For `stop`, resolves
 * once the supervisor has exited (its end of the connection closed).
 */
export async function sendControl(path: string, command: ControlCommand): Promise<ControlReply> {
  await checkControlOwner(path);
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const channel = new LineChannel<ControlReply, ControlRequest>(socket);
    let reply: ControlReply | undefined;
    socket.once('error', (cause: NodeJS.ErrnoException) => {
      if (reply) return;
      reject(
        new GracefulRestartError(
          ErrorCodes.SUPERVISOR_UNREACHABLE,
          `No supervisor answers on ${path} (${cause.code ?? cause.message}). Is \`graceful-restart run\` ` +
            'running as this user? Pass its control socket with --control PATH (or GRACEFUL_RESTART_CONTROL).',
          { cause },
        ),
      );
    });
    socket.once('connect', () => channel.send({ type: command }));
    channel.once('message', (message) => {
      reply = message;
      if (command !== 'stop' || !message.ok) resolve(message);
    });
    channel.once('close', () => {
      if (reply) resolve(reply);
      else if (!socket.connecting)
        reject(
          new GracefulRestartError(
            ErrorCodes.SUPERVISOR_UNREACHABLE,
            `The supervisor on ${path} closed the connection without answering.`,
          ),
        );
    });
  });
}
