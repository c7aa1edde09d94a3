import type { Config, EnvironmentConfig } from '../config/model.js';
import type { ArgoRolloutsProvider } from '../integrations/traffic/argo-rollouts.js';
import { rolloutWeight } from '../integrations/traffic/argo-plugin.js';
import type { TrafficTarget } from '../integrations/traffic/types.js';
import type { Logger } from '../observability/logger.js';
import type { RedisClient } from '../redis/client.js';
import type { RequestFlow } from '../requests/flow.js';
import { newRequestId } from '../requests/ids.js';
import type { RequestStore } from '../requests/store.js';
import type { BackoutRequest } from '../requests/types.js';
import type { Decision } from '../requests/flow.js';
import { PolicyError } from '../errors.js';
import { describePrincipals, isEmpty, isIn } from '../policy/policy.js';
import type { Directory } from '../slack/directory.js';
import type { CanaryAbortPlan } from '../../jobs/canary-abort.js';
import { pausedAtIndefiniteStep, type RolloutGatePlan } from '../../jobs/rollout-gate.js';

/** A pause's claim outlives any sane pause; a new revision or step is a new claim. */
const CLAIM_TTL_S = 7 * 86_400;

export interface RolloutWatchDeps {
  config: Config;
  argo: ArgoRolloutsProvider;
  flow: RequestFlow;
  requests: RequestStore;
  redis: RedisClient;
  prefix: string;
  directory: Directory;
  log: Logger;
}

function targetOf(env: EnvironmentConfig, rollout: string): TrafficTarget {
  const k = env.kubernetes;
  return {
    provider: 'argo-rollouts',
    context: k.context,
    namespace: k.namespace,
    object: rollout,
    stableDeployment: k.deployment,
    canaryDeployment: `${k.deployment}-canary`,
    stableBackend: k.deployment,
    canaryBackend: `${k.deployment}-canary`,
  };
}

/**
 * The Argo Rollouts gate: reads the configured Rollouts and gives each pause at an indefinite
 * `pause: {}` step one approval card (claimed with SET NX per revision and step, so replicas and
 * repeated scans never post twice). Approve runs the `rollout-gate` job (the plugin's promote);
 * Abort files a `canary-abort` request (the plugin's abort patch).
 */
export class RolloutGateWatch {
  constructor(private readonly deps: RolloutWatchDeps) {}

  /** The shortest scan interval any environment asks for; undefined when none watches a Rollout. */
  static every(config: Config): number | undefined {
    const all = [...config.services.values()].flatMap((s) =>
      [...s.environments.values()].flatMap((e) => (e.rolloutGates ? [e.rolloutGates.every] : [])),
    );
    return all.length ? Math.min(...all) : undefined;
  }

  async scan(): Promise<number> {
    let filed = 0;
    for (const service of this.deps.config.services.values())
      for (const env of service.environments.values())
        for (const rollout of env.rolloutGates?.rollouts ?? []) {
          try {
            if (await this.check(env, rollout)) filed++;
          } catch (err) {
            this.deps.log.warn(
              { err, service: env.service, env: env.name, rollout },
              'rollout gate: could not read the Rollout',
            );
          }
        }
    return filed;
  }

  private async check(env: EnvironmentConfig, rollout: string): Promise<boolean> {
    const target = targetOf(env, rollout);
    const ro = await this.deps.argo.get(target);
    const here = pausedAtIndefiniteStep(ro);
    await this.retireStale(target, here);
    if (!here) return false;
    const key = `${this.deps.prefix}:rollout-gate:${target.context}/${target.namespace}/${rollout}/${here.podHash}/${here.stepIndex}`;
    const id = newRequestId('rollout-gate');
    if ((await this.deps.redis.set(key, id, 'EX', CLAIM_TTL_S, 'NX')) !== 'OK') return false;
    const channel = env.channel ?? this.deps.config.incidentChannel;
    if (!channel) {
      this.deps.log.warn(
        { service: env.service, env: env.name, rollout },
        'rollout gate: no Slack channel to ask in',
      );
      return false;
    }
    const plan: RolloutGatePlan = {
      service: env.service,
      environment: env.name,
      target,
      stepIndex: here.stepIndex,
      podHash: here.podHash,
      weight: rolloutWeight(ro),
      ...(ro.spec?.template?.spec?.containers?.[0]?.image
        ? { image: ro.spec.template.spec.containers[0].image }
        : {}),
      steps: ro.spec?.strategy?.canary?.steps?.length ?? 0,
    };
    try {
      await this.deps.redis.set(this.currentKey(target), id, 'EX', CLAIM_TTL_S);
      await this.deps.flow.file({
        id,
        kind: 'rollout-gate',
        service: env.service,
        environment: env.name,
        target: `${env.service}/${env.name}/rollout/${rollout}`,
        mutating: true,
        requester: 'Argo Rollouts',
        system: true,
        plan,
        title: `Promote Rollout ${target.namespace}/${rollout} in ${env.name} past its pause at step ${here.stepIndex + 1} (canary at ${plan.weight} %)`,
        policy: env.policy,
        forward: `Promoting Rollout ${rollout}`,
        slack: { channel },
      });
      return true;
    } catch (err) {
      // Not filed now (a closed window, a busy target): the next scan asks again.
      await this.deps.redis.del(key);
      this.deps.log.info({ err: (err as Error).message, rollout }, 'rollout gate: not filed yet');
      return false;
    }
  }

  private currentKey(t: TrafficTarget): string {
    return `${this.deps.prefix}:rollout-gate:current:${t.context}/${t.namespace}/${t.object}`;
  }

  /** A pending card whose pause the Rollout has left (promoted by hand, a new revision) is withdrawn, saying so. */
  private async retireStale(
    t: TrafficTarget,
    here: { stepIndex: number; podHash: string } | undefined,
  ): Promise<void> {
    const id = await this.deps.redis.get(this.currentKey(t));
    const request = id ? await this.deps.requests.get(id) : undefined;
    if (!request || request.state !== 'pending') return;
    const plan = request.plan as RolloutGatePlan;
    if (here && here.stepIndex === plan.stepIndex && here.podHash === plan.podHash) return;
    await this.deps.flow.cancel(
      request.id,
      `The Rollout left this pause without backout (now ${here ? `paused at step ${here.stepIndex + 1}` : 'not paused at a pause: {} step'}); nothing was sent.`,
    );
  }

  /** The card's Abort: withdraws the gate and files the plugin's abort patch as a `canary-abort` request. */
  async abort(request: BackoutRequest, user: string, place: { channel: string }): Promise<Decision> {
    const plan = request.plan as RolloutGatePlan;
    const env = this.deps.config.services.get(plan.service)?.environments.get(plan.environment);
    if (!env)
      throw new PolicyError(
        `${plan.service} in ${plan.environment} is no longer in the config; nothing was changed.`,
      );
    // As for backout's own canaries: returning traffic to stable needs requester (or approver) rights, no second person.
    const policy = env.policy;
    const may =
      isEmpty(policy.requesters) ||
      (await isIn(user, policy.requesters, this.deps.directory)) ||
      (!isEmpty(policy.approvers) && (await isIn(user, policy.approvers, this.deps.directory)));
    if (!may)
      throw new PolicyError(
        `You are not allowed to abort Rollout ${plan.target.object}. Nothing was changed.`,
        {
          hint: `Requests here can be filed by ${describePrincipals(policy.requesters)}.`,
        },
      );
    if (request.state === 'pending') await this.deps.flow.cancel(request.id, `Aborted by <@${user}>`);
    else if (request.state !== 'cancelled')
      return {
        ok: false,
        message: `This gate is ${request.state}; abort the Rollout with \`kubectl argo rollouts abort\` or a new card. Nothing was changed.`,
      };
    const abortPlan: CanaryAbortPlan = {
      service: plan.service,
      environment: plan.environment,
      target: plan.target,
      weight: plan.weight,
      of: request.id,
      timeoutMs: env.rolloutTimeoutMs,
    };
    const filed = await this.deps.flow.file({
      kind: 'canary-abort',
      service: plan.service,
      environment: plan.environment,
      target: request.target,
      mutating: true,
      requester: user,
      plan: abortPlan,
      title: `Abort Rollout ${plan.target.namespace}/${plan.target.object} in ${plan.environment}: all traffic back to stable (canary at ${plan.weight} %)`,
      policy: { ...policy, approval: 'not-required' },
      safeDirection: true,
      slack: { channel: place.channel },
    });
    return {
      ok: true,
      message: `Aborting Rollout ${plan.target.object} (\`${filed.id}\`): the plugin's abort patch returns all traffic to stable.`,
    };
  }
}
