import type { Config, EnvironmentConfig } from '../src/config/model.js';
import { trafficTarget } from '../src/integrations/traffic/index.js';
import type { TrafficProviders, TrafficTarget } from '../src/integrations/traffic/types.js';
import type { RequestFlow } from '../src/requests/flow.js';
import type { BackoutRequest } from '../src/requests/types.js';
import type { CanaryAbortPlan } from '../jobs/canary-abort.js';
import type { CanaryBoard } from '../jobs/canary-control.js';
import type { CanaryPlan } from '../jobs/canary.js';
import { placeFor, type Invocation } from './shared.js';

export interface CanaryAbortDeps {
  config: Config;
  flow: RequestFlow;
  traffic: TrafficProviders;
  canary: CanaryBoard;
}

/**
 * How long an abort that signals a running canary waits for it to end: the canary's own return
 * to stable is bounded by the rollout timeout, plus a minute for its job to wake and notice.
 */
const SIGNAL_GRACE_MS = 60_000;

/** What aborting the canary of one environment means right now. */
export type CanaryAbortAim =
  /** A canary job runs: signal it (the lock target is its own, the canary holds `<service>/<env>`). */
  | { kind: 'signal'; target: string; canary: BackoutRequest; plan: CanaryAbortPlan }
  /** No canary job, but traffic on the canary: set its weight to 0. */
  | { kind: 'weight'; target: string; plan: CanaryAbortPlan }
  | { kind: 'nothing'; why: string };

/** The lock target of an abort that signals a running canary (one such abort per canary at a time). */
export const signalTarget = (service: string, env: string) => `${service}/${env}/canary-abort`;

export function weightTitle(plan: CanaryAbortPlan): string {
  return `Return all traffic of ${plan.service} in ${plan.environment} to stable (canary at ${plan.weight} %)`;
}

/**
 * With no canary job: reads the split and plans setting the canary's weight to 0, or says
 * (`onStable`) that all traffic is already on stable.
 */
export async function planByWeight(
  input: { service: string; env: EnvironmentConfig; target: TrafficTarget; of?: string },
  traffic: TrafficProviders,
): Promise<{ plan: CanaryAbortPlan } | { onStable: string }> {
  const state = await traffic.for(input.target.provider).read(input.target);
  if (state.idle && state.weight === 0) return { onStable: state.summary };
  return {
    plan: {
      service: input.service,
      environment: input.env.name,
      target: input.target,
      weight: state.weight,
      ...(input.of ? { of: input.of } : {}),
      timeoutMs: input.env.rolloutTimeoutMs,
    },
  };
}

/** For an alert's `propose: canary-abort`: what there is to abort, or why nothing. */
export async function aimCanaryAbort(
  service: string,
  env: EnvironmentConfig,
  deps: CanaryAbortDeps,
): Promise<CanaryAbortAim> {
  const where = `${service} in ${env.name}`;
  const target = trafficTarget(env);
  if (!target)
    return { kind: 'nothing', why: `${where} has no canary configured, so there is nothing to abort.` };
  const live = await deps.canary.live(`${service}/${env.name}`);
  if (live?.state === 'pending')
    return {
      kind: 'nothing',
      why: `the canary \`${live.id}\` of ${where} is still waiting for approval to start, so no traffic is on it yet. Reject it on its card if it should not start.`,
    };
  if (live) {
    // The split itself, for the card; what the job last published if it cannot be read now.
    const weight = await deps.traffic
      .for(target.provider)
      .read(target)
      .then(
        (state) => state.weight,
        async () => (await deps.canary.position(live.id))?.weight ?? (live.plan as CanaryPlan).from.weight,
      );
    return {
      kind: 'signal',
      target: signalTarget(service, env.name),
      canary: live,
      plan: {
        service,
        environment: env.name,
        target,
        weight,
        signal: live.id,
        timeoutMs: env.rolloutTimeoutMs + SIGNAL_GRACE_MS,
      },
    };
  }
  const planned = await planByWeight({ service, env, target }, deps.traffic);
  if ('onStable' in planned)
    return {
      kind: 'nothing',
      why: `no canary is running and all traffic of ${where} is on stable (${planned.onStable}).`,
    };
  return { kind: 'weight', target: `${service}/${env.name}`, plan: planned.plan };
}

/**
 * Files an alert's canary abort under the environment's own policy: unlike a person's abort,
 * approval is asked for wherever the policy asks for it. A freeze does not hold it back.
 */
export async function fileCanaryAbort(
  aim: Exclude<CanaryAbortAim, { kind: 'nothing' }>,
  env: EnvironmentConfig,
  inv: Invocation & { reason: string },
  deps: CanaryAbortDeps,
  alert: { id: string },
): Promise<BackoutRequest> {
  const { plan } = aim;
  return deps.flow.file({
    id: alert.id,
    system: true,
    kind: 'canary-abort',
    service: plan.service,
    environment: plan.environment,
    target: aim.target,
    mutating: true,
    requester: inv.user,
    reason: inv.reason,
    plan,
    title:
      aim.kind === 'signal'
        ? `Abort the canary \`${aim.canary.id}\` of ${plan.service} in ${plan.environment}: all traffic back to stable`
        : weightTitle(plan),
    policy: env.policy,
    safeDirection: true,
    slack: placeFor(deps.config, env, inv),
  });
}
