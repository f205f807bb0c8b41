/** A restart's outcome and a typed error as they cross a process boundary. Pure. */
import { type ErrorCode, ErrorCodes, GracefulRestartError } from '../errors.js';

export interface RestartResult {
  oldPid: number;
  newPid: number;
  durationMs: number;
  /** The directory the new generation started in (a release's `current`, followed at start). */
  cwd: string;
  /** Its command line, as it reads: `node /srv/app/current/server.mjs`. */
  command: string;
  /** With `graceful-restart run --workers N` (N > 1): every worker replaced, and every new one. */
  oldPids?: number[];
  newPids?: number[];
  /** `crash`: the old generation crashed and handed over (see crash handover); else a restart. */
  cause?: 'crash';
  /** Under the supervisor: how long the new workers were watched after they served (`--probation`). */
  probationMs?: number;
}

/** An error as it crosses a process boundary (and as status answers show it). */
export interface WireError {
  code: ErrorCode;
  message: string;
  exitCode?: number | null;
  signal?: NodeJS.Signals | null;
}

/** The last restart's outcome: one shape for a generation, the supervisor and `status`. */
export type RestartOutcome = { ok: true; result: RestartResult } | { ok: false; error: WireError };

export function errorToWire(error: GracefulRestartError): WireError {
  return {
    code: error.code,
    message: error.message,
    ...(error.exitCode === undefined ? {} : { exitCode: error.exitCode }),
    ...(error.signal === undefined ? {} : { signal: error.signal }),
  };
}

/** A typed error again; a code this version does not know (a newer peer's) becomes INTERNAL. */
export function errorFromWire(wire: WireError): GracefulRestartError {
  const known = (Object.values(ErrorCodes) as string[]).includes(wire.code);
  return new GracefulRestartError(known ? wire.code : ErrorCodes.INTERNAL, String(wire.message), {
    ...(wire.exitCode === undefined ? {} : { exitCode: wire.exitCode }),
    ...(wire.signal === undefined ? {} : { signal: wire.signal }),
  });
}
