import type { Config } from '../src/config/model.js';
import { UsageError } from '../src/errors.js';
import type { SlackMessage } from '../src/slack/notifier.js';
import type { RetractCommand } from './retract-grammar.js';
import type { Invocation } from './shared.js';

export type RetractApiCommand = Extract<RetractCommand, { kind: `api-${string}` }>;

/** Dependencies of `/retract api …`. */
export interface RetractApiDeps {
  config: Config;
}

/** `/retract api …`: plan, list, usage and undo of API retirements. */
export function runRetractApi(
  _cmd: RetractApiCommand,
  _inv: Invocation,
  _deps: RetractApiDeps,
): Promise<SlackMessage> {
  return Promise.reject(new UsageError('`/retract api` is not available in this build yet.'));
}
