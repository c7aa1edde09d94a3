import { UsageError } from '../src/errors.js';
import type { SlashCommand } from './command.js';
import { help, parse, USAGE, type RetractCommand } from './retract-grammar.js';
import {
  parseDelay,
  parseSchedule,
  parseSunset,
  runRetractApi,
  type RetractApiCommand,
  type RetractApiDeps,
} from './retract-api.js';
import { planRetraction, resolveReleaseService, type RetractDeps } from './retract-plan.js';
import { planRetractUndo } from './retract-undo.js';
import { QUICK } from '../src/queue/lanes.js';
import { githubLane, resolveService, type Invocation } from './shared.js';

export interface RetractCommandDeps extends RetractApiDeps, RetractDeps {
  retractViews: { openRetractModal(triggerId: string, inv: Invocation): Promise<void> };
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
    if (isApi(cmd)) {
      const service = resolveService(config, cmd.service);
      if (cmd.kind === 'api-retire') {
        // The dates, schedule and delay depend only on the clock: refuse them in the acknowledgement.
        const now = new Date();
        const sunset = parseSunset(cmd.sunset, now);
        if (cmd.brownout !== undefined) parseSchedule(cmd.brownout, now, sunset);
        parseDelay(cmd.delay);
      }
      return { ack: `:hourglass_flowing_sand: Working on the API retirement for ${service.name}…` };
    }
    const { service, repo } = resolveReleaseService(config, cmd.service);
    return {
      ack: `:hourglass_flowing_sand: Planning ${cmd.kind === 'undo' ? 'the undo of the retraction of' : 'the retraction of'} ${service.name} ${cmd.tag} (${repo.fullName})…`,
    };
  },
  needsQueue: (cmd) => cmd.kind !== 'help' && cmd.kind !== 'api-list' && cmd.kind !== 'api-usage',
  // API retirement reads and writes only backout's own registry; dialogs must open within 3 s.
  lane: (cmd, config) =>
    cmd.kind === 'help' || cmd.kind === 'modal' || isApi(cmd) ? QUICK : githubLane(config, cmd.service),
  async run(cmd, inv, deps) {
    if (cmd.kind === 'help') return undefined;
    if (isApi(cmd)) return runRetractApi(cmd, inv, deps);
    switch (cmd.kind) {
      case 'modal':
        if (!inv.triggerId) {
          throw new UsageError('Slack did not send a trigger to open the dialog; name the release instead.', {
            hint: USAGE,
          });
        }
        await deps.retractViews.openRetractModal(inv.triggerId, inv);
        return undefined;
      case 'retract':
        return (await planRetraction(cmd, inv, deps)).message;
      case 'undo':
        return (await planRetractUndo(cmd, inv, deps)).message;
    }
  },
};
