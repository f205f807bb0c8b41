import {
  BadRequestException,
  Controller,
  Get,
  Header,
  Inject,
  type OnApplicationShutdown,
  Query,
  Res,
} from '@nestjs/common';
import type { Response } from 'express';
import type { ExampleConfig } from '../../shared/config.mjs';

export const CONFIG = Symbol('example config');
const TEXT = 'text/plain; charset=utf-8';

@Controller()
export class AppController implements OnApplicationShutdown {
  constructor(@Inject(CONFIG) private readonly config: ExampleConfig) {}

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

  /** Runs once per generation, after its last request: graceful's onShutdown calls app.close(). */
  onApplicationShutdown(): void {
    console.log(`example-nestjs pid=${process.pid} onApplicationShutdown at ${Date.now()}`);
  }
}
