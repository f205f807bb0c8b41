/**
 * Which paths a generation requests of itself before it says ready (warm-up.ts): the option,
 * else the environment variable, else none.
 */
import { DEFAULTS } from './defaults.js';
import { ErrorCodes, GracefulRestartError } from './errors.js';
import { describeValue } from './option-names.js';

/** Names the warm-up paths of any app, without code: `/,/api/items` (comma-separated). */
export const WARM_UP_ENV = 'GRACEFUL_RESTART_WARM_UP';

export interface WarmUpOptions {
  /** GET paths (with a query if wanted) the app answers without side effects, e.g. `['/', '/api/items?limit=1']`. */
  paths: readonly string[];
  /** Requests to each path. Default 50. */
  requests?: number | undefined;
}

export interface WarmUpSetting {
  paths: string[];
  requests: number;
}

const OFF: WarmUpSetting = { paths: [], requests: 0 };
const EXAMPLE = `e.g. { paths: ['/', '/api/items'] }`;

export function resolveWarmUp(
  option: unknown,
  env: NodeJS.ProcessEnv = process.env,
): WarmUpSetting {
  if (option === false) return OFF;
  if (option === undefined) {
    const text = env[WARM_UP_ENV];
    if (text === undefined || text.trim() === '') return OFF;
    const paths = text.split(',').map((path) => path.trim());
    if (!paths.every(isPath)) {
      throw new GracefulRestartError(
        ErrorCodes.INVALID_OPTION,
        `${WARM_UP_ENV} must be paths starting with "/", separated by commas, e.g. "/,/api/items" (got ${JSON.stringify(text)}).`,
      );
    }
    return { paths, requests: DEFAULTS.warmUpRequests };
  }
  const given = option as Partial<WarmUpOptions> | null;
  const paths = typeof given === 'object' && given !== null ? given.paths : undefined;
  if (!Array.isArray(paths) || paths.length === 0 || !paths.every(isPath)) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `warmUp must be false or { paths } with GET paths starting with "/", ${EXAMPLE} (got ${describeValue(option)}).`,
    );
  }
  const requests = given?.requests ?? DEFAULTS.warmUpRequests;
  if (!Number.isInteger(requests) || requests < 1 || requests > 10_000) {
    throw new GracefulRestartError(
      ErrorCodes.INVALID_OPTION,
      `warmUp.requests must be a whole number from 1 to 10000, the requests to each path (got ${describeValue(requests)}).`,
    );
  }
  return { paths: [...paths], requests };
}

const isPath = (path: unknown): path is string =>
  typeof path === 'string' && path.startsWith('/') && !/[\s\r\n]/.test(path);
