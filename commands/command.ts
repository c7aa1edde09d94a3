import type { Config } from '../src/config/model.js';
import type { Lane } from '../src/queue/lanes.js';
import type { HelpSection } from '../src/slack/cards.js';
import type { SlackMessage } from '../src/slack/notifier.js';
import type { Invocation } from './shared.js';

/**
 * The shape every slash command module exports. `parse` is pure; `check` does the
 * synchronous checks against the config so the acknowledgement can carry the error;
 * `run` does the slow part after the acknowledgement and returns the user's answer.
 */
export interface SlashCommand<C, D> {
  name: string;
  help: HelpSection;
  parse(text: string): C;
  isHelp(cmd: C): boolean;
  /** Throws a UsageError for unknown services/environments; returns the acknowledgement text. */
  check(cmd: C, config: Config): { ack?: string };
  /** Whether the command files requests (and so needs the queue). */
  needsQueue(cmd: C): boolean;
  /** Which lane `run` waits in: quick answers never queue behind planning against a slow cluster. */
  lane(cmd: C, config: Config): Lane;
  run(cmd: C, inv: Invocation, deps: D): Promise<SlackMessage | undefined>;
}
