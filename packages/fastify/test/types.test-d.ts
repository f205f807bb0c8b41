// The public types of @graceful-restart/fastify, checked as types (vitest typecheck).
import type { ErrorCode, Graceful, RestartResult } from '@graceful-restart/core';
import gracefulRestart, { type FastifyGracefulOptions } from '@graceful-restart/fastify';
import Fastify from 'fastify';
import { assertType, describe, expectTypeOf, it } from 'vitest';

type AnyKeys<T> = { [K in keyof T]-?: 0 extends 1 & T[K] ? K : never }[keyof T];

describe('@graceful-restart/fastify', () => {
  it('register() takes the plugin with typed options; a misspelt option is refused', async () => {
    const app = Fastify();
    await app.register(gracefulRestart, {
      healthRoute: '/healthz',
      admin: true,
      pidFile: undefined,
    });
    // @ts-expect-error listnerName is misspelt (listenerName)
    await app.register(gracefulRestart, { listnerName: 'web' });
    // @ts-expect-error a path or false
    await app.register(gracefulRestart, { healthRoute: 200 });
    expectTypeOf<AnyKeys<FastifyGracefulOptions>>().toBeNever();
  });

  it('decorates the instance with this generation: app.graceful', () => {
    const app = Fastify();
    expectTypeOf(app.graceful).toEqualTypeOf<Graceful>();
    app.graceful.on('restart', (result) => expectTypeOf(result).toEqualTypeOf<RestartResult>());
    app.graceful.on('restart-failed', (error) =>
      expectTypeOf(error.code).toEqualTypeOf<ErrorCode>(),
    );
    assertType<Promise<RestartResult>>(app.graceful.restart());
  });
});
