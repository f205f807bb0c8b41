import { type DynamicModule, Module } from '@nestjs/common';
import type { ExampleConfig } from '../../shared/config.mjs';
import { AppController, CONFIG, DRAIN_SIGNAL, type DrainSignalOf } from './app.controller.js';

@Module({})
export class AppModule {}

/** The app's module, with the configuration read at this generation's start and the drain signal. */
export function appModule(config: ExampleConfig, drainSignal: DrainSignalOf): DynamicModule {
  return {
    module: AppModule,
    controllers: [AppController],
    providers: [
      { provide: CONFIG, useValue: config },
      { provide: DRAIN_SIGNAL, useValue: drainSignal },
    ],
  };
}
