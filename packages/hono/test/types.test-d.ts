// The public types of @graceful-restart/hono, checked as types (vitest typecheck).
import type http from 'node:http';
import { type Graceful, type HonoGracefulOptions, honoGraceful } from '@graceful-restart/hono';
import { Hono, type MiddlewareHandler } from 'hono';
import { describe, expectTypeOf, it } from 'vitest';

type AnyKeys<T> = { [K in keyof T]-?: 0 extends 1 & T[K] ? K : never }[keyof T];

describe('@graceful-restart/hono', () => {
  it('is middleware, with this generation and a listen helper taking the app', () => {
    const graceful = honoGraceful({ healthRoute: '/healthz' });
    expectTypeOf(graceful).toExtend<MiddlewareHandler>();
    expectTypeOf(graceful.graceful).toEqualTypeOf<Graceful>();
    const app = new Hono();
    app.use(graceful);
    expectTypeOf(graceful.listen(app, 3000)).toEqualTypeOf<Promise<http.Server>>();
    expectTypeOf(graceful.listen(app, [3000, { name: 'admin', port: 3001 }])).toEqualTypeOf<
      Promise<http.Server[]>
    >();
    // @ts-expect-error the app (anything with fetch), not a port alone
    graceful.listen(3000);
  });

  it('options: none is any, a misspelt one is refused', () => {
    expectTypeOf<AnyKeys<HonoGracefulOptions>>().toBeNever();
    // @ts-expect-error drainMs is not an option (drain.deadlineMs is)
    honoGraceful({ drainMs: 5000 });
  });
});
