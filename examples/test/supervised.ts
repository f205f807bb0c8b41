// The supervisor helpers of core's suite, for an example: `supervise(example)` runs
// examples/<example> under `graceful-restart run`, its processes ended and checked by endAll().
import {
  type Supervised,
  supervise as superviseScript,
} from '../../packages/core/test/helpers/supervisor.js';
import { entryOf, launchWith } from './examples.js';

export {
  childrenOf,
  everyWorkerAnswers,
  nextServing,
  nextServingSet,
  procStat,
  type Status,
  type Supervised,
  status,
} from '../../packages/core/test/helpers/supervisor.js';

/** `graceful-restart run ... -- node examples/<example>/<entry>` (see core's supervise()). */
export function supervise(
  example: string,
  options: Omit<Parameters<typeof superviseScript>[1], 'launch'> = {},
): Promise<Supervised> {
  return superviseScript(entryOf(example), {
    ...options,
    launch: (_script, env, launcher, spawnOptions) =>
      launchWith(example, env, launcher, spawnOptions),
  });
}
