import type { App } from '@slack/bolt';
import { z } from 'zod';
import type { Config } from '../src/config/model.js';
import { CommandLanes } from '../src/queue/lanes.js';
import { asBackoutError, QueueUnavailableError } from '../src/errors.js';
import type { Logger } from '../src/observability/logger.js';
import type { Metrics } from '../src/observability/metrics.js';
import { commandSpanTarget } from '../src/observability/span-target.js';
import type { Tracing } from '../src/observability/tracing.js';
import type { Principals } from '../src/config/schema.js';
import { isEmpty, isIn } from '../src/policy/policy.js';
import { helpMessage, renderError } from '../src/slack/cards.js';
import type { Directory } from '../src/slack/directory.js';
import type { Membership } from '../src/slack/membership.js';
import type { SlackMessage } from '../src/slack/notifier.js';
import type { SlashCommand } from './command.js';
import { canaryCommand, type CanaryCommandDeps } from './canary.js';
import { flagCommand } from './flag.js';
import type { FlagDeps } from './flag-plan.js';
import { retractCommand, type RetractCommandDeps } from './retract.js';
import type { RollbackCommandDeps } from './rollback.js';
import { rollbackOrGroupCommand } from './rollback-entry.js';
import type { Invocation } from './shared.js';

export interface CommandDeps extends RollbackCommandDeps, RetractCommandDeps, CanaryCommandDeps, FlagDeps {
  config: Config;
  directory: Directory;
  members: Membership;
  log: Logger;
  metrics: Metrics;
  /** Whether Redis answers right now; commands that file requests fail fast when it does not. */
  queueAvailable(): boolean;
  tracing: Tracing;
}

// Newer clients send thread_ts when a command is run inside a thread; it is not in Bolt's type.
const threadField = z.object({
  thread_ts: z
    .string()
    .regex(/^\d+\.\d+$/)
    .optional(),
});

const HELP_LOOKUP_BUDGET_MS = 1_500;

/**
 * The services and environments this user may file requests for. Most policies need no
 * look-up (anyone, or the user named); user groups are looked up together, bounded so that
 * help is always answered well inside Slack's 3 seconds (a group not answered in time
 * counts as "not shown").
 */
async function allowedServices(
  user: string,
  deps: CommandDeps,
): Promise<{ name: string; environments: string[] }[]> {
  const envs = [...deps.config.services.values()].flatMap((s) => [...s.environments.values()]);
  const decide = (p: Principals): boolean | Promise<boolean> =>
    isEmpty(p) ||
    p.users.includes(user) ||
    (p.usergroups.length > 0 && isIn(user, p, deps.directory).catch(() => false));
  const pending = envs.map((e) => decide(e.policy.requesters));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), HELP_LOOKUP_BUDGET_MS);
  });
  const settled = await Promise.race([Promise.all(pending.map((p) => Promise.resolve(p))), timedOut]);
  clearTimeout(timer);
  const allowed = settled === 'timeout' ? pending.map((p) => p === true) : settled;
  const out = new Map<string, string[]>();
  envs.forEach((e, i) => {
    if (allowed[i]) out.set(e.service, [...(out.get(e.service) ?? []), e.name]);
  });
  return [...out].map(([name, environments]) => ({ name, environments }));
}

function register<C>(
  app: App,
  cmd: SlashCommand<C, CommandDeps>,
  deps: CommandDeps,
  lanes: CommandLanes,
): void {
  app.command(cmd.name, async ({ command, ack, respond }) => {
    const started = performance.now();
    const observeAck = () =>
      deps.metrics.ackLatency.observe({ kind: 'command' }, (performance.now() - started) / 1000);
    const thread = threadField.safeParse(command);
    const inv: Invocation = {
      user: command.user_id,
      channel: command.channel_id,
      ...(command.response_url ? { responseUrl: command.response_url } : {}),
      ...(command.trigger_id ? { triggerId: command.trigger_id } : {}),
      ...(thread.success && thread.data.thread_ts ? { threadTs: thread.data.thread_ts } : {}),
    };
    const log = deps.log.child({ command: cmd.name, user: inv.user, channel: inv.channel });
    let parsed: C;
    try {
      parsed = cmd.parse(command.text ?? '');
      if (cmd.isHelp(parsed)) {
        await ack(helpMessage(cmd.help, await allowedServices(inv.user, deps)));
        observeAck();
        deps.metrics.commands.inc({ command: cmd.name, result: 'help' });
        return;
      }
      if (cmd.needsQueue(parsed) && !deps.queueAvailable()) throw new QueueUnavailableError();
      const { ack: ackText } = cmd.check(parsed, deps.config);
      await ack(ackText ? { response_type: 'ephemeral', text: ackText } : undefined);
      observeAck();
    } catch (err) {
      const error = asBackoutError(err);
      await ack({ response_type: 'ephemeral', ...renderError(error) });
      observeAck();
      deps.metrics.commands.inc({
        command: cmd.name,
        result: error.code === 'usage' ? 'usage_error' : 'refused',
      });
      log.info({ code: error.code, text: command.text }, 'command refused at acknowledgement');
      return;
    }
    let reply: SlackMessage | undefined;
    try {
      reply = await lanes.run(cmd.lane(parsed, deps.config), () =>
        deps.tracing.span(
          `command ${cmd.name}`,
          {
            'backout.command': cmd.name,
            'backout.user': inv.user,
            ...commandSpanTarget(parsed, deps.config),
          },
          async () => {
            // A Slack Connect user's command carries their own workspace: refused before any planning.
            await deps.members.checkOrigin(inv.user, {
              teamId: command.team_id,
              enterpriseId: command.enterprise_id,
            });
            return cmd.run(parsed, inv, deps);
          },
        ),
      );
      deps.metrics.commands.inc({ command: cmd.name, result: 'ok' });
    } catch (err) {
      const error = asBackoutError(err);
      if (error.code === 'internal') log.error({ err }, 'command failed');
      else log.info({ code: error.code, message: error.message }, 'command refused');
      deps.metrics.commands.inc({
        command: cmd.name,
        result: error.code === 'internal' ? 'error' : 'refused',
      });
      reply = renderError(error);
    }
    if (reply) {
      await respond({ response_type: 'ephemeral', ...reply }).catch((err: unknown) =>
        log.warn({ err: (err as Error).message }, 'could not answer through response_url'),
      );
    }
  });
}

/** Registers every slash command on the Bolt app. Listeners acknowledge, then decide. */
export function registerCommands(app: App, deps: CommandDeps): void {
  // A command's slow part (live reads, filing) runs after its acknowledgement, in bounded lanes:
  // a burst cannot slow the acknowledgements of the rest, a dead cluster or repo holds up only
  // the commands about it, and aborts and dialogs never wait behind planning.
  const lanes = new CommandLanes();
  register(app, rollbackOrGroupCommand, deps, lanes);
  register(app, retractCommand, deps, lanes);
  register(app, canaryCommand, deps, lanes);
  register(app, flagCommand, deps, lanes);
}
