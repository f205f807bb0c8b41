import { ErrorCodes, GracefulRestartError } from '../errors.js';

/** What the check needs of a live instance. */
interface LiveInstance {
  readonly state: string;
}

/**
 * The live Graceful instances of this process, shared by every copy of the library loaded in
 * it (an ESM and a CJS copy), with whether each handles signals.
 */
const KEY = Symbol.for('graceful-restart.instances');
function live(): Map<LiveInstance, { handlesSignals: boolean }> {
  const holder = globalThis as { [KEY]?: Map<LiveInstance, { handlesSignals: boolean }> };
  holder[KEY] ??= new Map();
  return holder[KEY];
}

/**
 * One process is one generation. A second instance is refused when either would act on the
 * process as a whole: one that handles signals (both would start a successor at every SIGHUP),
 * or any instance in a process that took over from a previous generation (both would claim the
 * same handover). Instances with `signals: false` in a first generation (tests, embedding)
 * may coexist.
 */
export function refuseSecondInstance(next: { handlesSignals: boolean; successor: boolean }): void {
  for (const [other, { handlesSignals }] of live()) {
    if (other.state === 'stopped') {
      live().delete(other);
      continue;
    }
    if (!handlesSignals && !next.handlesSignals && !next.successor) continue;
    throw new GracefulRestartError(
      ErrorCodes.DUPLICATE_INSTANCE,
      `A Graceful instance already exists in this process (pid ${process.pid}, ${other.state}). One ` +
        'process is one generation: a second instance would start a second successor at every restart. ' +
        'Create one and listen on every server through it: graceful.listen(server, spec) for each; ' +
        "express and koa: listen(app, [3000, { name: 'https', port: 3443, server: httpsServer }]). " +
        'To replace an instance (in tests), call uninstall() on the first.',
    );
  }
}

export function claimProcess(instance: LiveInstance, how: { handlesSignals: boolean }): void {
  live().set(instance, how);
}

export function releaseProcess(instance: LiveInstance): void {
  live().delete(instance);
}
