import type { Config } from '../src/config/model.js';
import { UsageError } from '../src/errors.js';
import type { HelpSection } from '../src/slack/cards.js';
import { parseArgs } from '../src/text/args.js';
import { closest } from '../src/text/suggest.js';
import { tokenize } from '../src/text/tokenize.js';
import type { SlashCommand } from './command.js';
import { QUICK } from '../src/queue/lanes.js';
import { requestSwitch, resolveSwitch, showStatus, type FlagDeps } from './flag-plan.js';
import { checkReason, isHelp, noExtra, serviceToken, wordValue } from './shared.js';

export const USAGE =
  '/flag <service> <flag> off|on [--env <env>] [--reason "<text>"]  ·  /flag <service> cronjobs off|on [--env <env>]  ·  /flag <service> [--env <env>] status';

export const help: HelpSection = {
  command: '/flag',
  usage: [
    '/flag <service> <flag> off|on [--env <env>] [--reason "<text>"]',
    '/flag <service> cronjobs off|on [--env <env>] [--reason "<text>"]',
    '/flag <service> [--env <env>] status',
  ],
  examples: [
    '/flag checkout-api new-checkout off --reason "5xx spike"',
    '/flag checkout-api cronjobs off --env production',
    '/flag checkout-api status',
  ],
  notes: [
    "The first mitigation: turns one of the service's kill-switch flags off (Unleash, LaunchDarkly or flagd) or suspends its CronJobs, with the usual plan, approval (policy `flagOff` may waive it for turning off) and an Undo that puts back exactly what was there.",
  ],
};

export type FlagCommand =
  | { kind: 'help' }
  | { kind: 'status'; service: string; env?: string }
  | {
      kind: 'switch';
      service: string;
      /** A flag key, or undefined for the environment's CronJobs. */
      flag?: string;
      direction: 'off' | 'on';
      env?: string;
      reason?: string;
    };

const FLAG_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Pure: command text → typed command, or a UsageError that says what was wrong. */
export function parse(text: string): FlagCommand {
  const tokens = tokenize(text);
  if (tokens.length === 0) throw new UsageError('Which service and which flag?', { hint: USAGE });
  if (isHelp(tokens)) return { kind: 'help' };
  const { positionals, flags } = parseArgs(tokens, { env: 'string', reason: 'string' }, USAGE);
  const service = serviceToken(positionals[0], USAGE);
  const env = flags.get('env') as string | undefined;
  const second = wordValue(positionals[1]);
  if (second === undefined)
    throw new UsageError(`Name the flag to switch, \`cronjobs\`, or \`status\`.`, { hint: USAGE });
  if (second.toLowerCase() === 'status') {
    noExtra(positionals, 2, USAGE);
    if (flags.has('reason')) throw new UsageError('`status` takes only --env.', { hint: USAGE });
    return { kind: 'status', service, ...(env ? { env } : {}) };
  }
  if (!FLAG_KEY.test(second))
    throw new UsageError(
      `"${second.slice(0, 80)}" is not a flag key (letters, digits, dots, dashes, underscores).`,
      {
        hint: USAGE,
      },
    );
  const verb = wordValue(positionals[2])?.toLowerCase();
  if (verb !== 'off' && verb !== 'on') {
    const guess = verb ? closest(verb, ['off', 'on']) : undefined;
    throw new UsageError(
      verb
        ? `"${verb.slice(0, 40)}" is not off or on.${guess ? ` Did you mean \`${guess}\`?` : ''}`
        : `Say whether to turn \`${second}\` off or on.`,
      { hint: USAGE },
    );
  }
  noExtra(positionals, 3, USAGE);
  const reason = checkReason(flags.get('reason') as string | undefined);
  const isCron = second.toLowerCase() === 'cronjobs';
  return {
    kind: 'switch',
    service,
    ...(isCron ? {} : { flag: second }),
    direction: verb,
    ...(env ? { env } : {}),
    ...(reason ? { reason } : {}),
  };
}

export const flagCommand: SlashCommand<FlagCommand, FlagDeps> = {
  name: '/flag',
  help,
  parse,
  isHelp: (cmd) => cmd.kind === 'help',
  check(cmd, config: Config) {
    if (cmd.kind === 'help') return {};
    if (cmd.kind === 'status') {
      const { service } = resolveSwitch({ service: cmd.service }, config, { any: true });
      return { ack: `:mag: Reading the kill switches of ${service.name}…` };
    }
    const { service, env } = resolveSwitch(cmd, config);
    const what = cmd.flag ? `flag \`${cmd.flag}\`` : 'CronJobs';
    return {
      ack: `:hourglass_flowing_sand: Planning to ${cmd.flag ? `turn ${what} ${cmd.direction}` : cmd.direction === 'off' ? 'suspend the CronJobs' : 'resume the CronJobs'} of ${service.name} in ${env.name}…`,
    };
  },
  needsQueue: (cmd) => cmd.kind === 'switch',
  // Reads and writes flag providers and CronJobs: one lane per service, so a slow provider holds up only it.
  lane: (cmd) => (cmd.kind === 'help' ? QUICK : { kind: 'plan', key: `kill switches of ${cmd.service}` }),
  async run(cmd, inv, deps) {
    switch (cmd.kind) {
      case 'help':
        return undefined;
      case 'status':
        return showStatus(cmd, deps);
      case 'switch':
        return (await requestSwitch(cmd, inv, deps)).message;
    }
  },
};
