/** What a log line carries besides its text, for structured loggers (pino, fastify.log). */
export type LogFields = Record<string, string | number | boolean | number[] | null | undefined>;

/**
 * The logging surface the library uses: pino, fastify.log and console all fit. A pino logger
 * (one with `bindings()`) also gets each line's fields (`oldPid`, `newPid`, `durationMs`,
 * `code`...) as its first argument; other loggers get the text, which says the same.
 */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
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

/** pino's calling convention: `logger.info(fields, message)`. */
type PinoLike = Record<'info' | 'warn' | 'error', (fields: object, message: string) => void> & {
  bindings: () => unknown;
};

function isPino(logger: object): logger is PinoLike {
  return typeof (logger as Partial<PinoLike>).bindings === 'function';
}

/**
 * A log line never breaks what the library is doing: a logger that throws (its destination
 * gone, a terminal that hung up) loses that line, and the drain or restart goes on.
 */
const neverThrows =
  (log: (message: string, fields?: LogFields) => void) =>
  (message: string, fields?: LogFields): void => {
    try {
      log(message, fields);
    } catch {
      // the line is lost; the move it tells of is not
    }
  };

export function resolveLogger(logger: Logger | false | undefined): Logger {
  if (logger === false) return silent;
  const given = logger ?? stderrLogger();
  const at = (level: 'info' | 'warn' | 'error') =>
    neverThrows(
      isPino(given)
        ? (message, fields) =>
            fields ? given[level](fields, message) : (given as Logger)[level](message)
        : // Other loggers get the text only: console would print the fields object after it.
          (message) => given[level](message),
    );
  return { info: at('info'), warn: at('warn'), error: at('error') };
}
