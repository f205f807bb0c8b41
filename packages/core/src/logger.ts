/** The logging surface the library uses: pino, fastify.log and console all fit. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const silent: Logger = { info() {}, warn() {}, error() {} };

function stderrLogger(): Logger {
  const line = (level: string, message: string) =>
    process.stderr.write(`[graceful-restart ${process.pid}] ${level}: ${message}\n`);
  return {
    info: (message) => line('info', message),
    warn: (message) => line('warn', message),
    error: (message) => line('error', message),
  };
}

export function resolveLogger(logger: Logger | false | undefined): Logger {
  if (logger === false) return silent;
  return logger ?? stderrLogger();
}
