import type { Config } from '../src/config/model.js';
import { UsageError } from '../src/errors.js';
import type { SlashCommand } from './command.js';
import { help, parse, type CanaryCommand } from './canary-grammar.js';
import { resolveEnvironment, resolveService } from './shared.js';

export interface CanaryCommandDeps {
  config: Config;
}

/** `/canary <service> status | start | promote | abort`. */
export const canaryCommand: SlashCommand<CanaryCommand, CanaryCommandDeps> = {
  name: '/canary',
  help,
  parse,
  isHelp: (cmd) => cmd.kind === 'help',
  check(cmd, config) {
    if (cmd.kind === 'help') return {};
    const service = resolveService(config, cmd.service);
    const env = resolveEnvironment(service, cmd.env);
    if (!env.canary) {
      throw new UsageError(`${service.name} in ${env.name} has no canary configured.`, {
        hint: 'Add a `canary:` block (provider, and the ingress, rollout or httpRoute) to that environment in the config.',
      });
    }
    return { ack: `:hourglass_flowing_sand: Reading the canary of ${service.name} in ${env.name}…` };
  },
  needsQueue: (cmd) => cmd.kind !== 'help' && cmd.kind !== 'status',
  run(cmd) {
    if (cmd.kind === 'help') return Promise.resolve(undefined);
    return Promise.reject(new UsageError('Canary promotion is not available in this build yet.'));
  },
};
