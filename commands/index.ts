import type { App } from '@slack/bolt';
import { z } from 'zod';
import type { Config } from '../src/config/model.js';
import { CommandLanes } from '../src/queue/lanes.js';
import { asBackoutError, QueueUnavailableError, type BackoutError } from '../src/errors.js';
import type { Logger } from '../src/observability/logger.js';
import type { Metrics } from '../src/observability/metrics.js';
import { commandSpanTarget } from '../src/observability/span-target.js';
import type { Tracing } from '../src/observability/tracing.js';
import type { Principals } from '../src/config/schema.js';
import { isEmpty, isIn } from '../src/policy/policy.js';
import { helpMessage, renderError, servicesMessage } from '../src/slack/cards.js';
import type { Directory } from '../src/slack/directory.js';
import type { Membership } from '../src/slack/membership.js';
import type { SlackMessage } from '../src/slack/notifier.js';
import type { CommandAcknowledger } from '../src/slack/receiver.js';
import type { SlashCommand } from './command.js';
import { canaryCommand, type CanaryCommandDeps } from './canary.js';
import { flagCommand } from './flag.js';
import type { FlagDeps } from './flag-plan.js';
import { retractCommand, type RetractCommandDeps } from './retract.js';
import type { RollbackCommandDeps } from './rollback.js';
import { rollbackOrGroupCommand } from './rollback-entry.js';
import type { Invocation } from './shared.js';
import type { Responder } from '../src/slack/respond.js';

export interface CommandDeps extends RollbackCommandDeps, RetractCommandDeps, CanaryCommandDeps, FlagDeps {
  config: Config;
  directory: Directory;
  members: Membership;
  log: Logger;
  metrics: Metrics;
  /** Whether Redis answers right now; commands that file requests fail fast when it does not. */
  queueAvailable(): boolean;
  tracing: Tracing;
  /** Answers through the command's response_url. */
  responder: Responder;
}

// Newer clients send thread_ts when a command is run inside a thread; it is not in Bolt's type.
const threadField = z.object({
  thread_ts: z
    .string()
    .regex(/^\d+\.\d+$/)
    .optional(),
});

const HELP_LOOKUP_BUDGET_MS = 1_500;

type Allowed = { name: string; environments: string[] }[];

function byService(envs: { service: string; name: string }[], allowed: readonly boolean[]): Allowed {
  const out = new Map<string, string[]>();
  envs.forEach((e, i) => {
    if (allowed[i]) out.set(e.service, [...(out.get(e.service) ?? []), e.name]);
  });
  return [...out].map(([name, environments]) => ({ name, environments }));
}

/**
 * The services and environments this user may file requests for, as far as the config says
 * without a look-up (anyone, or the user named); `lookups` is set when a user group must be
 * asked about as well.
 */
function knownAllowedServices(user: string, config: Config): { services: Allowed; lookups: boolean } {
  const envs = [...config.services.values()].flatMap((s) => [...s.environments.values()]);
  let lookups = false;
  const allowed = envs.map((e) => {
    const p = e.policy.requesters;
    if (isEmpty(p) || p.users.includes(user)) return true;
    if (p.usergroups.length > 0) lookups = true;
    return false;
  });
  return { services: byService(envs, allowed), lookups };
}

/**
 * The same with user groups looked up, together and bounded so that the answer comes well
 * inside response_url's life (a group not answered in time counts as "not shown").
 */
async function allowedServices(user: string, deps: CommandDeps): Promise<Allowed> {
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
  return byService(envs, settled === 'timeout' ? pending.map((p) => p === true) : settled);
}

/** How a slash command was acknowledged: decided from the request alone, with no I/O. */
type Acknowledged<C> =
  | { kind: 'refused'; response: SlackMessage & { response_type: 'ephemeral' }; error: BackoutError }
  | { kind: 'help'; response: SlackMessage; lookups: boolean; json: string }
  | { kind: 'run'; response?: SlackMessage & { response_type: 'ephemeral' }; parsed: C };

/** Help answers by command and user (the config does not change while running), kept bounded. */
const HELP_CACHE_MAX = 1_000;

function acknowledger<C>(cmd: SlashCommand<C, CommandDeps>, deps: CommandDeps) {
  const helpCache = new Map<string, { response: SlackMessage; lookups: boolean; json: string }>();
  return (command: { text?: string; user_id: string }): Acknowledged<C> => {
    try {
      const parsed = cmd.parse(command.text ?? '');
      if (cmd.isHelp(parsed)) {
        let help = helpCache.get(command.user_id);
        if (!help) {
          const known = knownAllowedServices(command.user_id, deps.config);
          const response = helpMessage(cmd.help, known.services, known.lookups);
          help = { response, lookups: known.lookups, json: JSON.stringify(response) };
          if (helpCache.size >= HELP_CACHE_MAX) helpCache.clear();
          helpCache.set(command.user_id, help);
        }
        return { kind: 'help', ...help };
      }
      // In memory: whether the command connection is up and the last probe answered.
      if (cmd.needsQueue(parsed) && !deps.queueAvailable()) throw new QueueUnavailableError();
      const { ack } = cmd.check(parsed, deps.config);
      return { kind: 'run', parsed, ...(ack ? { response: { response_type: 'ephemeral', text: ack } } : {}) };
    } catch (err) {
      const error = asBackoutError(err);
      return { kind: 'refused', error, response: { response_type: 'ephemeral', ...renderError(error) } };
    }
  };
}

/** Decisions made by the HTTP receiver, found again by the listener through the same body object. */
const decided = new WeakMap<object, Acknowledged<unknown>>();

function register<C>(
  app: App,
  cmd: SlashCommand<C, CommandDeps>,
  deps: CommandDeps,
  lanes: CommandLanes,
): CommandAcknowledger {
  const acknowledge = acknowledger(cmd, deps);
  app.command(cmd.name, async ({ command, ack }) => {
    // Over HTTP the receiver has answered already (its ack is a no-op); in Socket Mode, decided here.
    const acked = (decided.get(command) as Acknowledged<C> | undefined) ?? acknowledge(command);
    await ack(acked.response);
    const thread = threadField.safeParse(command);
    const inv: Invocation = {
      user: command.user_id,
      channel: command.channel_id,
      ...(command.response_url ? { responseUrl: command.response_url } : {}),
      ...(command.trigger_id ? { triggerId: command.trigger_id } : {}),
      ...(thread.success && thread.data.thread_ts ? { threadTs: thread.data.thread_ts } : {}),
    };
    if (acked.kind === 'refused') {
      refusedAtAcknowledgement(cmd.name, acked.error, command, deps);
      return;
    }
    const log = deps.log.child({ command: cmd.name, user: inv.user, channel: inv.channel });
    if (acked.kind === 'help') {
      deps.metrics.commands.inc({ command: cmd.name, result: 'help' });
      // The services a user group gives this user need a Slack look-up: they follow the help.
      if (acked.lookups && inv.responseUrl) {
        const services = await allowedServices(inv.user, deps);
        await deps.responder.respond(inv.responseUrl, servicesMessage(services));
      }
      return;
    }
    const parsed = acked.parsed;
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
    if (reply && inv.responseUrl) await deps.responder.respond(inv.responseUrl, reply);
  });
  return (body) => {
    const command = body as { text?: string; user_id: string; channel_id?: string };
    const acked = acknowledge(command);
    // Answered in full by the acknowledgement: counted (a refusal also logged) here, and Bolt is
    // not given the request, so a burst of them leaves no work behind its answers.
    if (acked.kind === 'help' && !acked.lookups) {
      deps.metrics.commands.inc({ command: cmd.name, result: 'help' });
      return { body: acked.json, complete: true };
    }
    if (acked.kind === 'refused') {
      refusedAtAcknowledgement(cmd.name, acked.error, command, deps);
      return { body: JSON.stringify(acked.response), complete: true };
    }
    decided.set(body, acked);
    if (acked.kind === 'help') return { body: acked.json };
    return acked.response ? { body: JSON.stringify(acked.response) } : {};
  };
}

function refusedAtAcknowledgement(
  name: string,
  error: BackoutError,
  command: { text?: string; user_id: string; channel_id?: string },
  deps: CommandDeps,
): void {
  deps.metrics.commands.inc({ command: name, result: error.code === 'usage' ? 'usage_error' : 'refused' });
  deps.log.info(
    {
      command: name,
      user: command.user_id,
      channel: command.channel_id,
      code: error.code,
      text: command.text,
    },
    'command refused at acknowledgement',
  );
}

/**
 * Registers every slash command on the Bolt app, and returns what the HTTP receiver answers a
 * slash command with: decided from the request alone (parse, usage errors with "did you mean",
 * the config checks, the help), so the acknowledgement waits for no I/O. The listeners then do
 * the rest.
 */
export function registerCommands(app: App, deps: CommandDeps): CommandAcknowledger {
  // A command's slow part (live reads, filing) runs after its acknowledgement, in bounded lanes:
  // a burst cannot slow the acknowledgements of the rest, a dead cluster or repo holds up only
  // the commands about it, and aborts and dialogs never wait behind planning.
  const lanes = new CommandLanes();
  const byName = new Map([
    [rollbackOrGroupCommand.name, register(app, rollbackOrGroupCommand, deps, lanes)],
    [retractCommand.name, register(app, retractCommand, deps, lanes)],
    [canaryCommand.name, register(app, canaryCommand, deps, lanes)],
    [flagCommand.name, register(app, flagCommand, deps, lanes)],
  ]);
  return (body) => (typeof body.command === 'string' ? (byName.get(body.command)?.(body) ?? {}) : {});
}
