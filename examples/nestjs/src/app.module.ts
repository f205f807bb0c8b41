import { type DynamicModule, Module } from '@nestjs/common';
import type { ExampleConfig } from '../../shared/config.mjs';
import { AppController, CONFIG } from './app.controller.js';

@Module({})
export class AppModule {}

/** The app's module, with the configuration read at this generation's start. */
export function appModule(config: ExampleConfig): DynamicModule {
  return {
    module: AppModule,
    controllers: [AppController],
    providers: [{ provide: CONFIG, useValue: config }],
  };
}
