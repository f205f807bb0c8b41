import { ErrorCodes, GracefulRestartError } from './errors.js';

/**
 * Listening-socket handover needs fd passing to a child and Unix signals: Windows has neither
 * in a form node exposes.
 */
export function refuseUnsupportedPlatform(platform: NodeJS.Platform = process.platform): void {
  if (platform !== 'win32') return;
  throw new GracefulRestartError(
    ErrorCodes.PLATFORM_UNSUPPORTED,
    'graceful-restart runs on Linux and other Unix systems (macOS, FreeBSD): Windows cannot hand a ' +
      'listening socket to a child process through node. Run the server under WSL or in a Linux container.',
  );
}
