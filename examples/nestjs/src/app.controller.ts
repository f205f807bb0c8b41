import {
  BadRequestException,
  Controller,
  Get,
  Header,
  Inject,
  type OnApplicationShutdown,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import type { ExampleConfig } from '../../shared/config.mjs';
import { longPoll, pollMs, streamEvents } from '../../shared/streams.mjs';

export const CONFIG = Symbol('example config');
/** The drain signal of a request (expressGraceful().drainSignal): long-lived routes end on it. */
export const DRAIN_SIGNAL = Symbol('drain signal');
export type DrainSignalOf = (req: Request) => AbortSignal;
const TEXT = 'text/plain; charset=utf-8';

@Controller()
export class AppController implements OnApplicationShutdown {
  constructor(
    @Inject(CONFIG) private readonly config: ExampleConfig,
    @Inject(DRAIN_SIGNAL) private readonly drainSignal: DrainSignalOf,
  ) {}

  @Get()
  @Header('content-type', TEXT)
  root(): string {
    return `${this.config.greeting} from pid=${process.pid}\n`;
  }

  @Get('slow')
  async slow(@Query('ms') raw = '', @Res({ passthrough: true }) res: Response): Promise<string> {
    const ms = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    // A JSON 400 (Nest's own error shape); the answer proper is text.
    if (!(ms >= 0 && ms <= 60_000))
      throw new BadRequestException('ms must be an integer from 0 to 60000');
    await new Promise((resolve) => setTimeout(resolve, ms));
    res.type(TEXT);
    return `slept ${ms} ms in pid=${process.pid}\n`;
  }

  /** SSE, ended when the drain tells this connection to go (see examples/shared/streams.mjs). */
  @Get('events')
  events(@Req() req: Request, @Res() res: Response): void {
    streamEvents(res, this.drainSignal(req));
  }

  /** A long poll, answered early when the drain tells this connection to go. */
  @Get('poll')
  @Header('content-type', TEXT)
  poll(@Query('ms') raw: string | undefined, @Req() req: Request): Promise<string> {
    const ms = pollMs(raw);
    if (Number.isNaN(ms)) throw new BadRequestException('ms must be an integer from 0 to 60000');
    return longPoll(ms, this.drainSignal(req));
  }

  /** Runs once per generation, after its last request: graceful's onShutdown calls app.close(). */
  onApplicationShutdown(): void {
    console.log(`example-nestjs pid=${process.pid} onApplicationShutdown at ${Date.now()}`);
  }
}
