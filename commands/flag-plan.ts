import type { Config, EnvironmentConfig, Policy, ServiceConfig } from '../src/config/model.js';
import { asBackoutError, UsageError } from '../src/errors.js';
import {
  describeSetting,
  sameSetting,
  type Setting,
  type SwitchProviders,
  type SwitchTarget,
} from '../src/integrations/flags/index.js';
import { checkRequester } from '../src/policy/policy.js';
import type { Decision, RequestFlow } from '../src/requests/flow.js';
import type { BackoutRequest } from '../src/requests/types.js';
import { ephemeral, esc } from '../src/slack/cards.js';
import type { Directory } from '../src/slack/directory.js';
import type { SlackMessage } from '../src/slack/notifier.js';
import { closest } from '../src/text/suggest.js';
import type { FlagPlan } from '../jobs/flag.js';
import { filedText } from './rollback.js';
import { placeFor, resolveEnvironment, resolveService, type Invocation } from './shared.js';

export interface FlagDeps {
  config: Config;
  switches: SwitchProviders;
  directory: Directory;
  flow: RequestFlow;
}

interface SwitchRef {
  service: string;
  /** A flag key; absent: the environment's CronJobs. */
  flag?: string;
  env?: string;
}

/** Checks against the config (synchronously, so the acknowledgement can carry the error). */
export function resolveSwitch(
  cmd: SwitchRef,
  config: Config,
  opts: { any?: boolean } = {},
): { service: ServiceConfig; env: EnvironmentConfig } {
  const service = resolveService(config, cmd.service);
  if (cmd.flag !== undefined) {
    if (!service.flags)
      throw new UsageError(
        `${service.name} has no kill-switch flags configured, so /flag cannot switch \`${cmd.flag}\`.`,
        {
          hint: `Add a \`flags:\` block (provider and killSwitches) under services.${service.name} in the config.`,
        },
      );
    if (!service.flags.killSwitches.includes(cmd.flag)) {
      const guess = closest(cmd.flag, service.flags.killSwitches);
      throw new UsageError(
        `\`${cmd.flag}\` is not one of ${service.name}'s kill switches.${guess ? ` Did you mean \`${guess}\`?` : ''}`,
        {
          hint: `Kill switches of ${service.name}: ${service.flags.killSwitches.map((f) => `\`${f}\``).join(', ')}.`,
        },
      );
    }
  }
  if (opts.any && !cmd.env) return { service, env: [...service.environments.values()][0]! };
  const env = resolveEnvironment(service, cmd.env);
  if (cmd.flag === undefined && !opts.any && env.cronJobs.length === 0)
    throw new UsageError(`${service.name} in ${env.name} has no CronJobs configured to suspend.`, {
      hint: `List them under services.${service.name}.environments.${env.name}.cronJobs in the config.`,
    });
  return { service, env };
}

/** Where a switch lives for the provider. */
export function switchTarget(
  service: ServiceConfig,
  env: EnvironmentConfig,
  what: 'flag' | 'cronjobs',
): SwitchTarget {
  const kube = { context: env.kubernetes.context, namespace: env.kubernetes.namespace };
  if (what === 'cronjobs') return { provider: 'cronjobs', environment: env.name, ...kube };
  const f = service.flags!;
  return {
    provider: f.provider,
    environment: env.flagEnvironment,
    project: f.project,
    ...(f.provider === 'flagd'
      ? { ...kube, featureFlag: f.featureFlag!, offVariant: f.offVariant, onVariant: f.onVariant }
      : {}),
  };
}

/** Turning things off (the safe direction) follows `flagOff` when the policy sets it. */
export function switchPolicy(policy: Policy, direction: 'off' | 'on'): Policy {
  return direction === 'off' && policy.flagOff ? { ...policy, approval: policy.flagOff } : policy;
}

async function readOrSay(deps: FlagDeps, t: SwitchTarget, item: string): Promise<string> {
  try {
    return describeSetting(await deps.switches.get(t.provider).read(t, item));
  } catch (err) {
    return `unknown (${esc(asBackoutError(err).message.slice(0, 200))})`;
  }
}

/**
 * Plans a switch from live state and files the request. `restore` (the card's Undo) gives the
 * exact settings to put back, item by item; otherwise the provider says what off or on means.
 */
export async function requestSwitch(
  cmd: SwitchRef & { direction: 'off' | 'on'; reason?: string },
  inv: Invocation,
  deps: FlagDeps,
  opts: { undoOf?: string; restore?: { name: string; to: Setting }[]; alert?: { id: string } } = {},
): Promise<{ message: SlackMessage; request?: BackoutRequest }> {
  const { service, env } = resolveSwitch(cmd, deps.config);
  const what = cmd.flag === undefined ? 'cronjobs' : 'flag';
  const verb =
    what === 'flag'
      ? `turn ${cmd.flag} ${cmd.direction}`
      : `${cmd.direction === 'off' ? 'suspend' : 'resume'} the CronJobs of`;
  // An alert's proposal has no person behind it: approval decides, not the requester list.
  if (!opts.alert)
    await checkRequester(inv.user, env.policy, deps.directory, `${verb} ${service.name} in ${env.name}`);
  const target = switchTarget(service, env, what);
  const provider = deps.switches.get(target.provider);
  const names = opts.restore?.map((r) => r.name) ?? (cmd.flag !== undefined ? [cmd.flag] : env.cronJobs);
  const items = await Promise.all(
    names.map(async (name, n) => ({
      name,
      before: await provider.read(target, name),
      after: opts.restore?.[n]?.to ?? (await provider.desired(target, name, cmd.direction)),
    })),
  );
  const afterOnly = items.map(({ after }) => {
    const { caveat: _c, ...rest } = after;
    return { ...rest };
  });
  items.forEach((i, n) => (i.after = afterOnly[n]!));
  if (items.every((i) => sameSetting(i.before, i.after))) {
    return {
      message: ephemeral(
        `:information_source: ${what === 'flag' ? `Flag \`${cmd.flag}\`` : 'Every CronJob'} of ${service.name} in ${env.name} is already ${items.map((i) => describeSetting(i.before)).join(', ')} (${provider.describe(target)}), so nothing was changed.`,
      ),
    };
  }
  const others = what === 'flag' ? [...service.environments.values()].filter((e) => e.name !== env.name) : [];
  const elsewhere = await Promise.all(
    others.map(async (e) => ({
      environment: e.name,
      state: await readOrSay(deps, switchTarget(service, e, 'flag'), cmd.flag!),
    })),
  );
  const plan: FlagPlan = {
    service: service.name,
    environment: env.name,
    what,
    target,
    direction: cmd.direction,
    items,
    ...(elsewhere.length ? { elsewhere } : {}),
    ...(opts.undoOf ? { undoOf: opts.undoOf } : {}),
  };
  const title =
    what === 'flag'
      ? `Turn flag ${cmd.flag} of ${service.name} ${cmd.direction} in ${env.name}`
      : `${cmd.direction === 'off' ? 'Suspend' : 'Resume'} the CronJobs of ${service.name} in ${env.name}`;
  const request = await deps.flow.file({
    kind: 'flag',
    service: service.name,
    environment: env.name,
    target: `${service.name}/${env.name}/${what === 'flag' ? `flag-${cmd.flag}` : 'cronjobs'}`,
    mutating: true,
    requester: inv.user,
    ...(cmd.reason ? { reason: cmd.reason } : {}),
    plan,
    title: `${title}${opts.undoOf ? ` (undo ${opts.undoOf})` : ''}`,
    policy: switchPolicy(env.policy, cmd.direction),
    slack: placeFor(deps.config, env, inv),
    safeDirection: cmd.direction === 'off',
    ...(opts.alert ? { id: opts.alert.id, system: true } : {}),
  });
  return { message: ephemeral(filedText(request)), request };
}

/** `/flag <service> [--env] status`: every kill switch (and CronJob) of the service, live. */
export async function showStatus(
  cmd: { service: string; env?: string },
  deps: FlagDeps,
): Promise<SlackMessage> {
  const service = resolveService(deps.config, cmd.service);
  const envs = cmd.env ? [resolveEnvironment(service, cmd.env)] : [...service.environments.values()];
  const lines: string[] = [];
  for (const env of envs) {
    const parts: string[] = [];
    if (service.flags) {
      const t = switchTarget(service, env, 'flag');
      for (const flag of service.flags.killSwitches)
        parts.push(`flag \`${flag}\` ${await readOrSay(deps, t, flag)}`);
    }
    const cron = switchTarget(service, env, 'cronjobs');
    for (const cj of env.cronJobs) parts.push(`CronJob \`${cj}\` ${await readOrSay(deps, cron, cj)}`);
    lines.push(
      `*${env.name}*: ${parts.length ? parts.join(' · ') : 'no kill switches or CronJobs configured'}`,
    );
  }
  return ephemeral(
    `*Kill switches of ${service.name}*${service.flags ? ` (${service.flags.provider})` : ''}\n${lines.join('\n')}`,
  );
}

/** The card's Undo: a new request that puts back exactly what the finished one changed. */
export async function undoSwitch(
  request: BackoutRequest,
  user: string,
  place: { channel: string; responseUrl?: string },
  deps: FlagDeps,
): Promise<Decision> {
  const plan = request.plan as FlagPlan;
  if (request.state !== 'succeeded')
    return {
      ok: false,
      message: `Only a finished switch can be undone; this one is ${request.state}. Nothing was changed.`,
    };
  const { message, request: filed } = await requestSwitch(
    {
      service: plan.service,
      env: plan.environment,
      ...(plan.what === 'flag' ? { flag: plan.items[0]!.name } : {}),
      direction: plan.direction === 'off' ? 'on' : 'off',
      reason: `Undo ${request.id}`,
    },
    {
      user,
      channel: place.channel,
      ...(place.responseUrl ? { responseUrl: place.responseUrl } : {}),
      ...(request.slack.threadTs ? { threadTs: request.slack.threadTs } : {}),
    },
    deps,
    { undoOf: request.id, restore: plan.items.map((i) => ({ name: i.name, to: i.before })) },
  );
  return { ok: filed !== undefined, message: message.text };
}

/** "Turn off <flag> instead" on a pending rollback's card: the gentler first move, filed as /flag would. */
export async function flagInsteadOfRollback(
  request: BackoutRequest,
  user: string,
  place: { channel: string; responseUrl?: string },
  deps: FlagDeps,
): Promise<Decision> {
  const plan = request.plan as { service: string; environment: string; killSwitch?: string };
  if (!plan.killSwitch)
    return { ok: false, message: `${plan.service} has no kill switch to offer; nothing was changed.` };
  const { message, request: filed } = await requestSwitch(
    {
      service: plan.service,
      env: plan.environment,
      flag: plan.killSwitch,
      direction: 'off',
      reason: `instead of rolling back (${request.id})`,
    },
    {
      user,
      channel: place.channel,
      ...(place.responseUrl ? { responseUrl: place.responseUrl } : {}),
      ...(request.slack.threadTs ? { threadTs: request.slack.threadTs } : {}),
    },
    deps,
  );
  const still =
    request.state === 'pending'
      ? ` The rollback \`${request.id}\` is still waiting for approval: reject it if the flag is enough.`
      : '';
  return { ok: filed !== undefined, message: `${message.text}${still}` };
}
