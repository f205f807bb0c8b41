// The public types of @graceful-restart/core, checked as types (vitest typecheck; also part of
// `pnpm typecheck`). A `@ts-expect-error` fails the check when the line it marks compiles.
import type http from 'node:http';
import {
  createGraceful,
  type DrainReport,
  type ErrorCode,
  ErrorCodes,
  type Graceful,
  type GracefulEvents,
  type GracefulOptions,
  type GracefulRestartError,
  isGracefulRestartError,
  type RestartOutcome,
  type RestartResult,
  type SupervisorOptions,
  type SupervisorStatus,
  serve,
} from '@graceful-restart/core';
import { assertType, describe, expectTypeOf, it } from 'vitest';

/** The keys of T whose type is `any` (never when none is). */
type AnyKeys<T> = { [K in keyof T]-?: 0 extends 1 & T[K] ? K : never }[keyof T];

declare const graceful: Graceful;

describe('options', () => {
  it('no option is typed any', () => {
    expectTypeOf<AnyKeys<GracefulOptions>>().toBeNever();
    expectTypeOf<AnyKeys<NonNullable<GracefulOptions['drain']>>>().toBeNever();
    expectTypeOf<AnyKeys<SupervisorOptions>>().toBeNever();
  });

  it('an option may be given as undefined (exactOptionalPropertyTypes), a misspelt one may not', () => {
    assertType<GracefulOptions>({ pidFile: undefined, drain: { deadlineMs: undefined } });
    // @ts-expect-error readyTimeout is not an option (readyTimeoutMs is)
    createGraceful({ readyTimeout: 5000 });
    // @ts-expect-error a number of milliseconds
    createGraceful({ probationMs: '2s' });
  });

  it('signals: arrays of catchable signals only', () => {
    assertType<GracefulOptions>({ signals: { restart: ['SIGUSR2'], shutdown: ['SIGTERM'] } });
    assertType<GracefulOptions>({ signals: false });
    // @ts-expect-error SIGKILL cannot be caught
    assertType<GracefulOptions>({ signals: { shutdown: ['SIGKILL'] } });
    // @ts-expect-error a list, not one signal
    assertType<GracefulOptions>({ signals: { restart: 'SIGHUP' } });
  });
});

describe('events and their payloads', () => {
  it('each event has its payload', () => {
    expectTypeOf<GracefulEvents['restart']>().toEqualTypeOf<[result: RestartResult]>();
    expectTypeOf<GracefulEvents['took-over']>().toEqualTypeOf<[result: RestartResult]>();
    expectTypeOf<GracefulEvents['drained']>().toEqualTypeOf<[report: DrainReport]>();
    expectTypeOf<GracefulEvents['predecessor-drained']>().toEqualTypeOf<[report: DrainReport]>();
    expectTypeOf<GracefulEvents['restart-failed']>().toEqualTypeOf<[error: GracefulRestartError]>();
    expectTypeOf<GracefulEvents['rollback']>().toEqualTypeOf<
      [error: GracefulRestartError, result: RestartResult]
    >();
  });

  it('listeners get typed payloads; an unknown event is refused', () => {
    graceful.on('restart', (result) => {
      expectTypeOf(result.durationMs).toBeNumber();
      expectTypeOf(result.newPid).toBeNumber();
    });
    graceful.on('drained', (report) => expectTypeOf(report.socketsForced).toBeNumber());
    graceful.on('restart-failed', (error) => expectTypeOf(error.code).toEqualTypeOf<ErrorCode>());
    // @ts-expect-error no such event
    graceful.on('restarted', () => undefined);
  });

  it('hand-off: any JSON out, unknown in', () => {
    expectTypeOf(graceful.onHandOff).parameter(0).toEqualTypeOf<() => unknown>();
    expectTypeOf(graceful.handedOff()).toEqualTypeOf<Promise<unknown>>();
    expectTypeOf(graceful.lastRestart).toEqualTypeOf<RestartOutcome | undefined>();
  });
});

describe('errors', () => {
  it('error codes are a union of string literals, not string', () => {
    expectTypeOf<ErrorCode>().not.toEqualTypeOf<string>();
    expectTypeOf<'ERR_GRACEFUL_ROLLED_BACK'>().toExtend<ErrorCode>();
    expectTypeOf(ErrorCodes.CHILD_EXITED).toEqualTypeOf<'ERR_GRACEFUL_CHILD_EXITED'>();
    // @ts-expect-error not a code of this library
    assertType<ErrorCode>('ERR_GRACEFUL_NOPE');
  });

  it('isGracefulRestartError narrows', () => {
    const error: unknown = new Error('x');
    if (isGracefulRestartError(error)) expectTypeOf(error).toEqualTypeOf<GracefulRestartError>();
    expectTypeOf<GracefulRestartError['code']>().toEqualTypeOf<ErrorCode>();
  });
});

describe('serve and status', () => {
  it('serve: one target gives one server, a list gives a list', () => {
    const handler: http.RequestListener = (_req, res) => res.end();
    expectTypeOf(serve(graceful, handler, 3000)).toEqualTypeOf<Promise<http.Server>>();
    expectTypeOf(serve(graceful, handler, [3000, { name: 'admin', port: 3001 }])).toEqualTypeOf<
      Promise<http.Server[]>
    >();
  });

  it('the supervisor status lists workers with typed fields', () => {
    expectTypeOf<SupervisorStatus['servingPids']>().toEqualTypeOf<number[]>();
    expectTypeOf<AnyKeys<SupervisorStatus>>().toBeNever();
  });
});
