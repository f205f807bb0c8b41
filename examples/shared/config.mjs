// Reads an example's configuration at every start (examples/CONTRACT.md). A bad value throws, so a restart
// into a broken config fails before ready and the running generation keeps serving.
import { readFileSync } from 'node:fs';

export function loadConfig(env = process.env) {
  const config = { greeting: 'hello' };
  if (env.CONFIG_FILE) {
    let parsed;
    try {
      parsed = JSON.parse(readFileSync(env.CONFIG_FILE, 'utf8'));
    } catch (error) {
      throw new Error(
        `CONFIG_FILE ${env.CONFIG_FILE} is not valid JSON: ${error.message}. Fix the file and restart.`,
      );
    }
    if (typeof parsed !== 'object' || parsed === null)
      throw new Error(`CONFIG_FILE ${env.CONFIG_FILE} must hold a JSON object.`);
    if ('greeting' in parsed) {
      if (
        typeof parsed.greeting !== 'string' ||
        parsed.greeting.length === 0 ||
        parsed.greeting.length > 200
      ) {
        throw new Error(
          `CONFIG_FILE ${env.CONFIG_FILE}: "greeting" must be a string of 1-200 characters.`,
        );
      }
      config.greeting = parsed.greeting;
    }
  }
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`PORT must be 0-65535 (got ${env.PORT}).`);
  const listener = env.SOCKET_PATH
    ? { name: 'web', path: env.SOCKET_PATH }
    : { name: 'web', port, host: env.HOST ?? '127.0.0.1' };
  // The admin route is on when a token is set; core refuses a token shorter than 32 bytes.
  const admin = Boolean(env.GRACEFUL_RESTART_TOKEN);
  return { ...config, listener, pidFile: env.PID_FILE, admin };
}
