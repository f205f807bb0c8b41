/**
 * What the drain reads of node's own HTTP server: the kind of server, the response a socket is
 * writing, and the Keep-Alive hint.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { Server as NetServer, type Socket } from 'node:net';
import { ErrorCodes, GracefulRestartError } from '../errors.js';
import type { ServerProtocol } from './options.js';

export function detectProtocol(server: NetServer): ServerProtocol {
  if (server instanceof http.Server || server instanceof https.Server) return 'http';
  const name = server.constructor.name;
  if (name === 'Http2Server' || name === 'Http2SecureServer') return 'http2';
  if (server instanceof NetServer) return 'net';
  throw new GracefulRestartError(
    ErrorCodes.SERVER_UNSUPPORTED,
    'Unsupported server: pass a node:net, node:http, node:https or node:http2 server.',
  );
}

/**
 * Clients that honour `Keep-Alive: timeout=N` (node's http.Agent, undici/fetch) stop reusing an
 * idle socket one second before N. Advertising an N that ends their reuse at least this long
 * before the idle grace means a drain never closes a socket such a client is about to reuse.
 */
const HINT_MARGIN_MS = 500;

/**
 * The `Keep-Alive: timeout` (seconds) that makes an idle grace race-free for clients honouring
 * it, or undefined when the grace is too short for any hint >= 2 s (node's client treats a hint
 * of 1 s or less as "do not reuse", which would turn keep-alive off).
 */
export function keepAliveHintFor(idleGraceMs: number): number | undefined {
  const seconds = Math.floor((idleGraceMs - HINT_MARGIN_MS) / 1000) + 1;
  return seconds >= 2 ? seconds : undefined;
}

type NodeSocket = Socket & { _httpMessage?: http.ServerResponse | null };
export type NodeResponse = http.ServerResponse & { _keepAliveTimeout?: number };

/** The response node is writing on `socket`, or null when it is idle. */
export function responseInFlight(socket: Socket): http.ServerResponse | null | undefined {
  return (socket as NodeSocket)._httpMessage;
}

/** On a connection's first request: node's fields that onRequest's fast path relies on. */
export function hasNodeFields(socket: Socket, res: http.ServerResponse): boolean {
  return (
    responseInFlight(socket) === res && typeof (res as NodeResponse)._keepAliveTimeout === 'number'
  );
}

/** The hint to advertise: only when shorter than what the server itself would keep a socket. */
export function effectiveHint(server: NetServer, seconds: number | undefined): number | undefined {
  if (seconds === undefined || !(server instanceof http.Server)) return undefined;
  const own = server.keepAliveTimeout > 0 ? Math.floor(server.keepAliveTimeout / 1000) : Infinity;
  return own > seconds ? seconds : undefined;
}
