import type { Config } from '../src/config/model.js';
import { UsageError } from '../src/errors.js';
import type { SlashCommand } from './command.js';
import { help, parse, type RetractCommand } from './retract-grammar.js';
import { runRetractApi, type RetractApiCommand, type RetractApiDeps } from './retract-api.js';
import { resolveService } from './shared.js';

export interface RetractCommandDeps extends RetractApiDeps {
  config: Config;
}

function isApi(cmd: RetractCommand): cmd is RetractApiCommand {
  return cmd.kind.startsWith('api-');
}

/** `/retract`: GitHub release retraction (and `undo`); `/retract api` goes to retract-api.ts. */
export const retractCommand: SlashCommand<RetractCommand, RetractCommandDeps> = {
  name: '/retract',
  help,
  parse,
  isHelp: (cmd) => cmd.kind === 'help',
  check(cmd, config) {
    if (cmd.kind === 'help' || cmd.kind === 'modal') return {};
    const service = resolveService(config, cmd.service);
    if (isApi(cmd))
      return { ack: `:hourglass_flowing_sand: Working on the API retirement for ${service.name}…` };
    return {
      ack: `:hourglass_flowing_sand: Planning ${cmd.kind === 'undo' ? 'the undo of the retraction of' : 'the retraction of'} ${service.name}@${cmd.tag}…`,
    };
  },
  needsQueue: (cmd) => cmd.kind !== 'help' && cmd.kind !== 'api-list' && cmd.kind !== 'api-usage',
  async run(cmd, inv, deps) {
    if (cmd.kind === 'help') return undefined;
    if (isApi(cmd)) return runRetractApi(cmd, inv, deps);
    throw new UsageError('Release retraction is not available in this build yet.');
  },
};
