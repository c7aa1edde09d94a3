import { UsageError } from '../src/errors.js';
import type { SlashCommand } from './command.js';
import { rollbackCommand, type RollbackCommand, type RollbackCommandDeps } from './rollback.js';
import { isGroup, requestGroupRollback } from './rollback-group.js';

/**
 * `/rollback` as registered: a name from the config's `groups:` rolls that group back in order
 * (one plan, one approval); any other name is the single-service rollback.
 */
export const rollbackOrGroupCommand: SlashCommand<RollbackCommand, RollbackCommandDeps> = {
  ...rollbackCommand,
  help: {
    ...rollbackCommand.help,
    usage: [
      ...rollbackCommand.help.usage,
      '/rollback <group> [--reason "<text>"]   (an ordered group from the config)',
    ],
  },
  check(cmd, config) {
    if (cmd.kind !== 'help' && cmd.kind !== 'modal' && isGroup(config, cmd.service)) {
      if (cmd.kind !== 'rollback' || cmd.env || cmd.to)
        throw new UsageError(
          `${cmd.service} is a group: \`/rollback ${cmd.service} [--reason "<text>"]\` rolls every member back to its previous revision, in order. For one member, name its service.`,
        );
      return { ack: `:hourglass_flowing_sand: Planning an ordered rollback of group ${cmd.service}…` };
    }
    return rollbackCommand.check(cmd, config);
  },
  // A group reads every member's cluster: a lane of its own, so it never holds up a single rollback.
  lane: (cmd, config) =>
    cmd.kind === 'rollback' && isGroup(config, cmd.service)
      ? { kind: 'plan', key: `rollback group ${cmd.service.toLowerCase()}` }
      : rollbackCommand.lane(cmd, config),
  async run(cmd, inv, deps) {
    if (cmd.kind === 'rollback' && isGroup(deps.config, cmd.service)) {
      const group = { group: cmd.service, ...(cmd.reason ? { reason: cmd.reason } : {}) };
      return (await requestGroupRollback(group, inv, deps)).message;
    }
    return rollbackCommand.run(cmd, inv, deps);
  },
};
