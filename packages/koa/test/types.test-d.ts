// The public types of @graceful-restart/koa, checked as types (vitest typecheck).
import type http from 'node:http';
import { type Graceful, type KoaGracefulOptions, koaGraceful } from '@graceful-restart/koa';
import Koa from 'koa';
import { describe, expectTypeOf, it } from 'vitest';

type AnyKeys<T> = { [K in keyof T]-?: 0 extends 1 & T[K] ? K : never }[keyof T];

describe('@graceful-restart/koa', () => {
  it('is middleware, with this generation and a listen helper taking the app', () => {
    const graceful = koaGraceful({ healthRoute: '/healthz' });
    expectTypeOf(graceful).toExtend<Koa.Middleware>();
    expectTypeOf(graceful.graceful).toEqualTypeOf<Graceful>();
    const app = new Koa();
    app.use(graceful);
    expectTypeOf(graceful.listen(app, 3000)).toEqualTypeOf<Promise<http.Server>>();
    // @ts-expect-error the koa app, not its callback
    graceful.listen(app.callback(), 3000);
  });

  it('options: none is any, a misspelt one is refused', () => {
    expectTypeOf<AnyKeys<KoaGracefulOptions>>().toBeNever();
    // @ts-expect-error pidfile is misspelt (pidFile)
    koaGraceful({ pidfile: '/run/app.pid' });
  });
});
