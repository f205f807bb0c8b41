import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

/** Longest line accepted: a peer that sends more without a newline is not ours. */
const MAX_LINE = 64 * 1024;

/**
 * The transport of every message between processes (messages.ts says which): JSON lines over a
 * stream socket: `message` for each well-formed object, `close` at EOF.
 */
export class LineChannel<In, Out> extends EventEmitter<{ message: [In]; close: [] }> {
  private buffered = '';
  private closed = false;

  constructor(private readonly socket: Socket) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.read(chunk));
    socket.on('error', () => undefined);
    const onClose = () => {
      if (this.closed) return;
      this.closed = true;
      this.emit('close');
    };
    socket.once('end', () => {
      socket.destroy();
      onClose();
    });
    socket.once('close', onClose);
    socket.resume();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(message: Out): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(`${JSON.stringify(message)}\n`);
  }

  close(): void {
    this.socket.destroy();
  }

  private read(chunk: string): void {
    this.buffered += chunk;
    let newline = this.buffered.indexOf('\n');
    while (newline >= 0) {
      const line = this.buffered.slice(0, newline);
      this.buffered = this.buffered.slice(newline + 1);
      try {
        const message = JSON.parse(line) as unknown;
        if (typeof message === 'object' && message !== null) this.emit('message', message as In);
      } catch {
        // not a message: ignored, as a peer of another version might send one we do not know
      }
      newline = this.buffered.indexOf('\n');
    }
    if (this.buffered.length > MAX_LINE) this.socket.destroy();
  }
}
