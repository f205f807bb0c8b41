// The public types of @graceful-restart/express, checked as types (vitest typecheck).
import type http from 'node:http';
import {
  type ErrorCode,
  type ExpressGracefulOptions,
  expressGraceful,
  type Graceful,
} from '@graceful-restart/express';
import express, { type RequestHandler } from 'express';
import { describe, expectTypeOf, it } from 'vitest';

type AnyKeys<T> = { [K in keyof T]-?: 0 extends 1 & T[K] ? K : never }[keyof T];

describe('@graceful-restart/express', () => {
  it('is middleware, with this generation and a listen helper', () => {
    const graceful = expressGraceful({ healthRoute: '/healthz', pidFile: undefined });
    expectTypeOf(graceful).toExtend<RequestHandler>();
    expectTypeOf(graceful.graceful).toEqualTypeOf<Graceful>();
    const app = express();
    app.use(graceful);
    expectTypeOf(graceful.listen(app, 3000)).toEqualTypeOf<Promise<http.Server>>();
    expectTypeOf(graceful.listen(app, [3000, { name: 'https', port: 3443 }])).toEqualTypeOf<
      Promise<http.Server[]>
    >();
  });

  it('options: none is any, a misspelt one is refused', () => {
    expectTypeOf<AnyKeys<ExpressGracefulOptions>>().toBeNever();
    // @ts-expect-error healthPath is not an option (healthRoute is)
    expressGraceful({ healthPath: '/healthz' });
    // @ts-expect-error the admin options or a boolean
    expressGraceful({ admin: 'secret' });
    expectTypeOf<ErrorCode>().not.toEqualTypeOf<string>();
  });

  it('readiness on one path or several, liveness, a lame duck, and the app readiness calls', () => {
    const graceful = expressGraceful({
      healthRoute: ['/healthz', '/readyz'],
      livenessRoute: '/livez',
      lameDuckMs: 5000,
    });
    expectTypeOf(graceful.graceful.setReady).parameters.toEqualTypeOf<[boolean, string?]>();
    expectTypeOf(graceful.graceful.readiness().statusCode).toEqualTypeOf<200 | 503>();
    // @ts-expect-error a liveness route is one path
    expressGraceful({ livenessRoute: ['/livez', '/alive'] });
  });
});
