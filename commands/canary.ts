import type { Config, EnvironmentConfig } from '../src/config/model.js';
import { formatDuration } from '../src/config/duration.js';
import { BusyError, PolicyError, UsageError } from '../src/errors.js';
import { argoAfterAbort } from '../src/integrations/traffic/argo-plugin.js';
import { trafficTarget } from '../src/integrations/traffic/index.js';
import type { TrafficTarget } from '../src/integrations/traffic/types.js';
import { checkRequester, describePrincipals, isEmpty, isIn } from '../src/policy/policy.js';
import { evaluateGates } from '../src/gates/gates.js';
import { assertWindowOpen } from '../src/policy/windows.js';
import { gateLine } from '../src/gates/types.js';
import { plural } from '../src/text/plural.js';
import type { Decision } from '../src/requests/flow.js';
import { ephemeral, esc } from '../src/slack/cards.js';
import type { SlackMessage } from '../src/slack/notifier.js';
import type { CanaryPosition } from '../jobs/canary-control.js';
import type { CanaryPlan } from '../jobs/canary.js';
import { abortCanary, promoteCanary, type CanaryActionDeps } from './canary-actions.js';
import { help, parse, type CanaryCommand } from './canary-grammar.js';
import type { SlashCommand } from './command.js';
import { filedText } from './rollback.js';
import { QUICK } from '../src/queue/lanes.js';
import { kubernetesLane, placeFor, resolveEnvironment, resolveService, type Invocation } from './shared.js';

export type CanaryCommandDeps = CanaryActionDeps;

type Targeted = Exclude<CanaryCommand, { kind: 'help' }>;

function resolve(
  cmd: Targeted,
  config: Config,
): { service: string; env: EnvironmentConfig; target: TrafficTarget } {
  const service = resolveService(config, cmd.service);
  const env = resolveEnvironment(service, cmd.env);
  const target = trafficTarget(env);
  if (!env.canary || !target) {
    throw new UsageError(`${service.name} in ${env.name} has no canary configured.`, {
      hint: 'Add a `canary:` block (provider, and the ingress, rollout or httpRoute) to that environment in the config.',
    });
  }
  return { service: service.name, env, target };
}

function answer(d: Decision): SlackMessage {
  return ephemeral(`${d.ok ? ':white_check_mark:' : ':information_source:'} ${d.message}`);
}

function positionLine(p: CanaryPosition | undefined, now = Date.now()): string {
  if (!p) return 'starting';
  const total = p.stops.length + 1;
  const step = `step ${Math.min(p.stop + 1, total)} of ${total}`;
  const analysis = p.analysis
    ? ` Last analysis: ${p.analysis}; failed checks ${p.failedChecks} of ${p.maxFailedChecks}.`
    : '';
  switch (p.phase) {
    case 'dwell':
      return `${step} at ${p.weight} %, next step ${p.nextAt ? `in ${formatDuration(Math.max(0, p.nextAt - now))}` : 'soon'}.${analysis}`;
    case 'gate':
      return `at ${p.weight} %, waiting for an Approve to go to 100 % (click *Promote to 100 %* in the thread).${analysis}`;
    case 'moving':
      return `moving to ${p.stops[p.stop] ?? 100} % (${step}).${analysis}`;
    default:
      return `${p.phase}.${analysis}`;
  }
}

async function status(cmd: Targeted, deps: CanaryCommandDeps): Promise<SlackMessage> {
  const { service, env, target } = resolve(cmd, deps.config);
  const p = deps.traffic.for(target.provider);
  const [state, live] = await Promise.all([p.read(target), deps.canary.live(`${service}/${env.name}`)]);
  const position = live ? await deps.canary.position(live.id) : undefined;
  const lines = [
    `*Canary of ${service} in ${env.name}* — ${p.describe(target)} (context \`${target.context}\`)`,
    `Traffic: *${state.weight} %* to the canary${state.canaryImage ? ` \`${state.canaryImage}\`` : ''}, ${100 - state.weight} % to stable${state.stableImage ? ` \`${state.stableImage}\`` : ''}.`,
    `Live: ${esc(state.summary)}.`,
    ...(state.aborted && !live ? [`:warning: ${esc(argoAfterAbort(target, state.canaryImage))}`] : []),
    live
      ? `Request \`${live.id}\` (${esc(live.title)}, requested by <@${live.requester}>) is ${live.state === 'pending' ? 'waiting for approval to start' : `${live.state}: ${positionLine(position)}`}`
      : 'No canary request is running.',
  ];
  return ephemeral(lines.join('\n'));
}

/**
 * The environment's gates before a canary starts. A failing gate refuses the start, saying who
 * may override it; `--break-glass "<reason>"` from one of them files it anyway, on the record.
 */
async function gatesBeforeStart(
  cmd: Extract<CanaryCommand, { kind: 'start' }>,
  user: string,
  env: EnvironmentConfig,
  deps: CanaryCommandDeps,
): Promise<{ plan: Pick<CanaryPlan, 'gates' | 'ticket' | 'override'>; audit?: Record<string, unknown> }> {
  const service = resolveService(deps.config, cmd.service);
  // A closed window is not a gate break-glass can open: refuse it first, saying when it reopens.
  assertWindowOpen(
    deps.config.windows,
    { service: service.name, environment: env.name },
    `Starting a canary of ${service.name} in ${env.name}`,
    Date.now(),
  );
  const results = await evaluateGates(deps.gates, {
    service,
    env,
    image: cmd.image,
    ...(cmd.ticket ? { ticket: cmd.ticket } : {}),
    now: Date.now(),
  });
  const failing = results.filter((r) => !r.ok);
  const plan = {
    ...(results.length ? { gates: results } : {}),
    ...(cmd.ticket ? { ticket: cmd.ticket } : {}),
  };
  const audit = results.length
    ? { gates: results.map((r) => ({ gate: r.gate, ok: r.ok, detail: r.detail })), ticket: cmd.ticket }
    : undefined;
  if (failing.length === 0) return { plan, ...(audit ? { audit } : {}) };
  const who = env.gates?.breakGlass;
  const mayOverride = who && !isEmpty(who) ? describePrincipals(who) : undefined;
  if (!cmd.breakGlass) {
    throw new PolicyError(
      `Starting a canary of ${service.name} in ${env.name} is blocked by ${plural(failing.length, 'failing gate')}. Nothing was changed.\n${results.map(gateLine).join('\n')}`,
      {
        hint: mayOverride
          ? `Fix what fails and run the command again; if this cannot wait, ${mayOverride} may override with \`--break-glass "<reason>"\` (recorded in the audit log).`
          : 'Fix what fails and run the command again. Nobody may override these gates here (the environment names nobody under gates.breakGlass).',
      },
    );
  }
  if (!who || isEmpty(who) || !(await isIn(user, who, deps.directory))) {
    throw new PolicyError(
      `You may not override the gates of ${service.name} in ${env.name}, so --break-glass was refused. Nothing was changed.`,
      { hint: mayOverride ? `${mayOverride} may.` : 'Nobody may override them here.' },
    );
  }
  return {
    plan: { ...plan, override: { by: user, reason: cmd.breakGlass } },
    audit: {
      ...audit,
      breakGlass: { by: user, reason: cmd.breakGlass, failing: failing.map((r) => r.gate) },
    },
  };
}

/** Plans a canary from live state and files the long-running `canary` request. */
async function start(
  cmd: Extract<CanaryCommand, { kind: 'start' }>,
  inv: Invocation,
  deps: CanaryCommandDeps,
): Promise<SlackMessage> {
  const { service, env, target } = resolve(cmd, deps.config);
  const canary = env.canary!;
  await checkRequester(inv.user, env.policy, deps.directory, `start a canary of ${service} in ${env.name}`);
  const p = deps.traffic.for(target.provider);
  const [state, stops] = await Promise.all([p.read(target), p.stops(target, canary.steps)]);
  if (!state.idle || state.weight !== 0) {
    throw new BusyError(
      `A canary is already in progress on ${service} in ${env.name}: ${state.summary}. Nothing was changed.`,
      {
        hint: `See it with \`/canary ${service} --env ${env.name} status\`; abort it first to start another.`,
      },
    );
  }
  if (state.stableImage === cmd.image) {
    throw new UsageError(
      `Stable already runs \`${cmd.image}\` in ${env.name}, so there is nothing to canary. Nothing was changed.`,
    );
  }
  if (!state.container) {
    throw new UsageError(
      `${p.describe(target)} names no container to put the image on. Nothing was changed.`,
    );
  }
  const gates = await gatesBeforeStart(cmd, inv.user, env, deps);
  const plan: CanaryPlan = {
    ...gates.plan,
    service,
    environment: env.name,
    target,
    image: cmd.image,
    container: state.container,
    ...(state.stableImage ? { stableImage: state.stableImage } : {}),
    from: {
      weight: state.weight,
      generation: state.generation,
      ...(state.canaryImage ? { canaryImage: state.canaryImage } : {}),
    },
    stops: stops.stops,
    ...(stops.note ? { stopsNote: stops.note } : {}),
    dwellMs: canary.dwell,
    intervalMs: canary.interval,
    maxFailedChecks: canary.maxFailedChecks,
    timeoutMs: env.rolloutTimeoutMs,
    ...(env.health ? { health: env.health } : {}),
  };
  const request = await deps.flow.file({
    kind: 'canary',
    service,
    environment: env.name,
    target: `${service}/${env.name}`,
    mutating: true,
    requester: inv.user,
    ...(cmd.reason ? { reason: cmd.reason } : {}),
    plan,
    title: `Canary ${cmd.image} for ${service} in ${env.name}: ${[...plan.stops.map((s) => `${s.weight} %`), '100 %'].join(' → ')}`,
    policy: env.policy,
    slack: placeFor(deps.config, env, inv),
    forward: `Starting a canary of ${service} in ${env.name}`,
    ...(gates.audit ? { auditDetails: gates.audit } : {}),
  });
  return ephemeral(filedText(request));
}

async function live(cmd: Targeted, deps: CanaryCommandDeps) {
  const { service, env } = resolve(cmd, deps.config);
  return { service, env, live: await deps.canary.live(`${service}/${env.name}`) };
}

/** `/canary <service> status | start <image> | promote [--full] | abort [--reason]`. */
export const canaryCommand: SlashCommand<CanaryCommand, CanaryCommandDeps> = {
  name: '/canary',
  help,
  parse,
  isHelp: (cmd) => cmd.kind === 'help',
  check(cmd, config) {
    if (cmd.kind === 'help') return {};
    const { service, env } = resolve(cmd, config);
    const what = {
      status: 'Reading the canary',
      start: `Planning a canary of \`${cmd.kind === 'start' ? cmd.image : ''}\` for`,
      promote: 'Promoting the canary of',
      abort: 'Aborting the canary of',
    }[cmd.kind];
    return {
      ack: `:hourglass_flowing_sand: ${what}${cmd.kind === 'status' ? ' of' : ''} ${service} in ${env.name}…`,
    };
  },
  needsQueue: (cmd) => cmd.kind !== 'help' && cmd.kind !== 'status',
  // An abort takes effect at once, whatever else is being planned.
  lane: (cmd, config) =>
    cmd.kind === 'help' || cmd.kind === 'abort' ? QUICK : kubernetesLane(config, cmd.service, cmd.env),
  async run(cmd, inv, deps) {
    switch (cmd.kind) {
      case 'help':
        return undefined;
      case 'status':
        return status(cmd, deps);
      case 'start':
        return start(cmd, inv, deps);
      case 'promote': {
        const found = await live(cmd, deps);
        if (!found.live) {
          return ephemeral(
            `:information_source: No canary is running for ${found.service} in ${found.env.name}; nothing was promoted. Start one with \`/canary ${found.service} start <image>\`.`,
          );
        }
        return answer(
          await promoteCanary(
            found.live,
            inv.user,
            { full: cmd.full, ...(cmd.breakGlass ? { breakGlass: cmd.breakGlass } : {}) },
            deps,
          ),
        );
      }
      case 'abort': {
        const found = await live(cmd, deps);
        return answer(
          await abortCanary(
            {
              service: found.service,
              env: found.env,
              live: found.live,
              user: inv.user,
              ...(cmd.reason ? { reason: cmd.reason } : {}),
              place: placeFor(deps.config, found.env, inv),
            },
            deps,
          ),
        );
      }
    }
  },
};
