import type { AuditLog } from '../src/audit/log.js';
import type { Config, EnvironmentConfig, Policy } from '../src/config/model.js';
import { PolicyError, UsageError } from '../src/errors.js';
import { trafficTarget } from '../src/integrations/traffic/index.js';
import type { TrafficProviders } from '../src/integrations/traffic/types.js';
import type { Logger } from '../src/observability/logger.js';
import { checkApprover, describePrincipals, isEmpty, isIn } from '../src/policy/policy.js';
import { assertWindowOpen } from '../src/policy/windows.js';
import { evaluateGates, type GateDeps } from '../src/gates/gates.js';
import { gateLine, type GateResult } from '../src/gates/types.js';
import { cardKey } from '../src/requests/card-view.js';
import type { Decision, RequestFlow } from '../src/requests/flow.js';
import { auditContext } from '../src/queue/step-runner.js';
import type { BackoutRequest, SlackPlace } from '../src/requests/types.js';
import type { Directory } from '../src/slack/directory.js';
import type { Notifier } from '../src/slack/notifier.js';
import type { CanaryBoard } from '../jobs/canary-control.js';
import type { CanaryPlan } from '../jobs/canary.js';
import { planByWeight, weightTitle } from './canary-abort-plan.js';

export interface CanaryActionDeps {
  config: Config;
  directory: Directory;
  flow: RequestFlow;
  traffic: TrafficProviders;
  canary: CanaryBoard;
  audit: AuditLog;
  notifier: Notifier;
  log: Logger;
  /** What the gates before forward moves read (CI, probes, windows). */
  gates: GateDeps;
}

/**
 * Who may steer a running canary (cut a dwell short, abort): the environment's requesters,
 * or its approvers. Approving the move to 100 % is checked separately, as an approval.
 */
export async function checkMayAct(
  user: string,
  policy: Policy,
  directory: Directory,
  what: string,
): Promise<void> {
  if (isEmpty(policy.requesters) || (await isIn(user, policy.requesters, directory))) return;
  if (!isEmpty(policy.approvers) && (await isIn(user, policy.approvers, directory))) return;
  throw new PolicyError(`You are not allowed to ${what}. Nothing was changed.`, {
    hint: `Requests here can be filed by ${describePrincipals(policy.requesters)}.`,
  });
}

function environmentOf(config: Config, request: BackoutRequest): EnvironmentConfig {
  const env = config.services.get(request.service)?.environments.get(request.environment ?? '');
  if (!env)
    throw new UsageError(
      `${request.service} in ${request.environment ?? '?'} is no longer in the config; nothing was changed.`,
    );
  return env;
}

function wakeLater(deps: CanaryActionDeps, requestId: string): void {
  deps.canary
    .wake(requestId)
    .catch((err: unknown) =>
      deps.log.warn({ err, requestId }, 'could not wake the canary job; it acts at its next round'),
    );
}

/**
 * Promote on a running canary. At the approval gate it is the approval of the move to
 * 100 % (approver rights, two-person rule against the canary's requester). Before it,
 * `promote` cuts the current dwell short and `promote --full` skips the remaining steps;
 * either way the job analyses first, and 100 % still waits for the Approve.
 */
export async function promoteCanary(
  request: BackoutRequest,
  user: string,
  opts: { full: boolean; breakGlass?: string },
  deps: CanaryActionDeps,
): Promise<Decision> {
  const plan = request.plan as CanaryPlan;
  if (request.state === 'pending')
    return {
      ok: false,
      message: 'This canary is still waiting for approval to start; nothing was promoted.',
    };
  if (request.state !== 'approved' && request.state !== 'running')
    return {
      ok: false,
      message: `This canary is ${request.state}${request.outcome ? ` (${request.outcome})` : ''}; there is nothing to promote.`,
    };
  const position = await deps.canary.position(request.id);
  const phase = position?.phase ?? 'starting';
  if (phase === 'gate') {
    await checkApprover(user, request, deps.directory);
    assertWindowOpen(
      deps.config.windows,
      request,
      `Promoting the canary of ${request.service} to 100 %`,
      Date.now(),
    );
    const override = await gatesBeforePromotion(request, user, opts.breakGlass, deps);
    const recorded = await deps.canary.signal(
      request.id,
      'approved',
      { by: user, at: Date.now() },
      { once: true },
    );
    if (!recorded) {
      const already = (await deps.canary.signals(request.id)).approved;
      return {
        ok: false,
        message: `The move to 100 % was already approved by <@${already?.by ?? '?'}>; nothing more was done.`,
      };
    }
    await deps.audit.append({
      type: 'canary.promotion-approved',
      ...auditContext({ ...request, approver: user }),
      details: {
        weight: position?.weight,
        failedChecks: position?.failedChecks,
        maxFailedChecks: position?.maxFailedChecks,
        lastAnalysis: position?.analysis,
        image: plan.image,
        ...(override ? { gates: override.gates, breakGlass: { by: user, reason: override.reason } } : {}),
      },
    });
    wakeLater(deps, request.id);
    return {
      ok: true,
      message: `Approved: \`${plan.image}\` goes to 100 % now (it was at ${position?.weight ?? '?'} %; last analysis: ${position?.analysis ?? 'none'}). Follow it in the thread.`,
    };
  }
  if (phase === 'promoting' || phase === 'aborting' || phase === 'finished')
    return { ok: false, message: `The canary is ${phase}; there is nothing to promote.` };
  const env = environmentOf(deps.config, request);
  await checkMayAct(
    user,
    env.policy,
    deps.directory,
    `promote the canary of ${request.service} in ${env.name}`,
  );
  const now = Date.now();
  if (opts.full) {
    await deps.canary.signal(request.id, 'full', { by: user, at: now }, { once: true });
    wakeLater(deps, request.id);
    return {
      ok: true,
      message: `Skipping the remaining steps: the canary is analysed now and, if healthy, waits at its current weight for an Approve to go to 100 %.`,
    };
  }
  const stop = position?.stop ?? 0;
  await deps.canary.signal(request.id, 'skip', { by: user, stop, at: now });
  wakeLater(deps, request.id);
  const next = position?.stops[stop + 1];
  return {
    ok: true,
    message: `Cutting the dwell at ${position?.stops[stop] ?? '?'} % short: the canary is analysed ${phase === 'dwell' ? 'now' : 'as soon as it gets there'} and, if healthy, goes to ${next !== undefined ? `${next} %` : 'the approval gate for 100 %'}.`,
  };
}

/**
 * The environment's gates again before 100 % (CI, downstream probes, ticket): a gate that fails
 * now refuses the Approve, unless the canary was started with a break-glass override or the
 * approver is on the environment's break-glass list and gives `--break-glass "<reason>"`.
 */
async function gatesBeforePromotion(
  request: BackoutRequest,
  user: string,
  breakGlass: string | undefined,
  deps: CanaryActionDeps,
): Promise<{ reason: string; gates: GateResult[] } | undefined> {
  const plan = request.plan as CanaryPlan;
  const service = deps.config.services.get(request.service);
  const env = service?.environments.get(request.environment ?? '');
  if (!service || !env?.gates || plan.override) return undefined;
  const results = await evaluateGates(deps.gates, {
    service,
    env,
    image: plan.image,
    ...(plan.ticket ? { ticket: plan.ticket } : {}),
    now: Date.now(),
  });
  if (results.every((r) => r.ok)) return undefined;
  const who = env.gates.breakGlass;
  const mayOverride = isEmpty(who) ? undefined : describePrincipals(who);
  if (breakGlass && mayOverride && (await isIn(user, who, deps.directory)))
    return { reason: breakGlass, gates: results };
  throw new PolicyError(
    `Promoting the canary of ${request.service} to 100 % is blocked by its gates. Nothing was changed; the canary stays at its current weight.\n${results.map(gateLine).join('\n')}`,
    {
      hint: mayOverride
        ? `Fix what fails and click Promote again, or abort the canary; if this cannot wait, ${mayOverride} may approve with \`/canary ${request.service} --env ${env.name} promote --break-glass "<reason>"\` (recorded in the audit log).`
        : 'Fix what fails and click Promote again, or abort the canary.',
    },
  );
}

/**
 * Abort at any time, without approval (all traffic back to stable is the safe direction).
 * A running canary job is flagged and woken; a canary still waiting for approval is
 * withdrawn; with no canary job, a small `canary-abort` request sets the weight to 0.
 */
export async function abortCanary(
  input: {
    service: string;
    env: EnvironmentConfig;
    live: BackoutRequest | undefined;
    user: string;
    reason?: string;
    place: SlackPlace;
    /** The canary request the abort was asked for (its card's button), when there is one. */
    of?: string;
  },
  deps: CanaryActionDeps,
): Promise<Decision> {
  const { env, live, user } = input;
  await checkMayAct(user, env.policy, deps.directory, `abort the canary of ${input.service} in ${env.name}`);
  if (live?.state === 'pending') return deps.flow.reject(live.id, user, live.planHash);
  if (live && (live.state === 'approved' || live.state === 'running')) {
    const recorded = await deps.canary.signal(
      live.id,
      'abort',
      { by: user, at: Date.now(), ...(input.reason ? { reason: input.reason } : {}) },
      { once: true },
    );
    wakeLater(deps, live.id);
    if (!recorded)
      return { ok: false, message: 'An abort of this canary is already under way; follow it in the thread.' };
    return {
      ok: true,
      message: `Aborting \`${live.id}\`: all traffic returns to stable now. The thread says when it is done.`,
    };
  }
  const target = trafficTarget(env);
  if (!target) throw new UsageError(`${input.service} in ${env.name} has no canary configured.`);
  const planned = await planByWeight(
    { service: input.service, env, target, ...(input.of ? { of: input.of } : {}) },
    deps.traffic,
  );
  if ('onStable' in planned) {
    return {
      ok: false,
      message: `No canary is running and all traffic of ${input.service} in ${env.name} is on stable (${planned.onStable}). Nothing was changed.`,
    };
  }
  const { plan } = planned;
  const request = await deps.flow.file({
    kind: 'canary-abort',
    service: input.service,
    environment: env.name,
    target: `${input.service}/${env.name}`,
    mutating: true,
    requester: user,
    ...(input.reason ? { reason: input.reason } : {}),
    plan,
    title: weightTitle(plan),
    // Returning traffic to stable needs no approval, freeze or not: requester rights are enough.
    policy: { ...env.policy, approval: 'not-required' },
    safeDirection: true,
    slack: input.place,
  });
  return {
    ok: true,
    message: `Returning all traffic to stable (\`${request.id}\`, canary at ${plan.weight} %). Follow it in <#${request.slack.channel}>.`,
  };
}

/** The canary card's Promote and Abort buttons. */
export function canaryFollowUps(deps: CanaryActionDeps) {
  return {
    promote: (request: BackoutRequest, user: string) => promoteCanary(request, user, { full: false }, deps),
    abort: async (
      request: BackoutRequest,
      user: string,
      place: { channel: string; responseUrl?: string },
    ) => {
      const env = environmentOf(deps.config, request);
      const live = await deps.canary.live(request.target);
      if (live && live.id !== request.id) {
        return {
          ok: false,
          message: `This canary has ended; \`${live.id}\` is the one running now. Abort it from its own card or with \`/canary ${request.service} --env ${env.name} abort\`. Nothing was changed.`,
        };
      }
      const card = await deps.notifier.ref(cardKey(request.id));
      const threadTs = request.slack.threadTs ?? card?.ts;
      return abortCanary(
        {
          service: request.service,
          env,
          live,
          user,
          reason: 'Abort button',
          place: {
            channel: card?.channel ?? request.slack.channel,
            ...(threadTs ? { threadTs } : {}),
            ...(place.responseUrl ? { responseUrl: place.responseUrl } : {}),
          },
          of: request.id,
        },
        deps,
      );
    },
  };
}
