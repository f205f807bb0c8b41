// Types of streams.mjs, for the examples written in TypeScript (nestjs).
import type { ServerResponse } from 'node:http';

export function sendEvents(
  drainSignal: AbortSignal,
  write: (text: string) => void,
  end: (text: string) => void,
): () => void;
export const EVENT_STREAM_HEADERS: Record<string, string>;
export function streamEvents(res: ServerResponse, drainSignal: AbortSignal): void;
export function eventStream(drainSignal: AbortSignal): ReadableStream<Uint8Array>;
export function pollMs(raw: string | undefined): number;
export function longPoll(ms: number, drainSignal: AbortSignal): Promise<string>;
/** What serveWebSockets uses of a `ws` WebSocket. */
interface EchoSocket {
  send(data: string): void;
  on(event: 'message', listener: (data: unknown) => void): unknown;
}
export function serveWebSockets<
  T extends { on(event: 'connection', listener: (socket: EchoSocket) => void): unknown },
>(wss: T): T;
