import { IntegrationError } from '../../errors.js';
import { rolloutStatus } from '../kubernetes/rollout-status.js';
import type { DeploymentSnapshot, Deployments } from '../kubernetes/types.js';
import {
  canaryTarget,
  stableTarget,
  type Observation,
  type PromotionAction,
  type Stop,
  type TrafficTarget,
} from './types.js';

/** The image of `container` in a Deployment's pod template (the first container when unnamed). */
export function imageOf(d: DeploymentSnapshot, container?: string): { container?: string; image?: string } {
  const containers = d.template.spec?.containers ?? [];
  const c = container ? containers.find((x) => x.name === container) : containers[0];
  return { ...(c ? { container: c.name } : {}), ...(c?.image ? { image: c.image } : {}) };
}

/**
 * The workload half shared by the providers that split traffic between two Deployments
 * (NGINX Ingress canaries and Gateway API backends): a stable and a canary Deployment.
 */
export class DeploymentPair {
  constructor(private readonly deployments: Deployments) {}

  async images(
    t: TrafficTarget,
  ): Promise<{ stableImage?: string; canaryImage?: string; container?: string }> {
    const [stable, canary] = await Promise.all([
      this.deployments.get(stableTarget(t)),
      this.deployments.get(canaryTarget(t)),
    ]);
    const s = imageOf(stable);
    // The canary carries the same container as stable; fall back to its first one.
    const c = imageOf(canary, s.container).image ? imageOf(canary, s.container) : imageOf(canary);
    return {
      ...(s.image ? { stableImage: s.image } : {}),
      ...(c.image ? { canaryImage: c.image } : {}),
      ...(c.container ? { container: c.container } : {}),
    };
  }

  async deployCanary(t: TrafficTarget, container: string, image: string): Promise<'patched' | 'unchanged'> {
    return this.setImage(canaryTarget(t), container, image);
  }

  async canaryReady(t: TrafficTarget): Promise<Observation> {
    return this.ready(await this.deployments.get(canaryTarget(t)));
  }

  /**
   * Promotion: the canary takes 100 %, the stable Deployment is set to the canary image
   * and rolls out, then all traffic goes back to stable (canary weight 0, as Flagger leaves it).
   */
  promotion(
    t: TrafficTarget,
    container: string,
    image: string,
    traffic: {
      advance(t: TrafficTarget, stop: Stop): Promise<unknown>;
      observe(t: TrafficTarget, stop: Stop): Promise<Observation>;
    },
  ): PromotionAction[] {
    const stable = stableTarget(t);
    const moveTo = (weight: number) => async () => {
      await traffic.advance(t, { weight });
      return traffic.observe(t, { weight });
    };
    return [
      { name: 'canary-100', label: 'Send 100 % of traffic to the canary', weight: 100, run: moveTo(100) },
      {
        name: 'stable-image',
        changesStable: true,
        label: `Set the stable Deployment ${t.namespace}/${t.stableDeployment} to ${image}`,
        run: async () => {
          const result = await this.setImage(stable, container, image);
          return {
            done: true,
            message:
              result === 'patched'
                ? `deployment.apps/${t.stableDeployment} image updated (${container}=${image})`
                : `deployment.apps/${t.stableDeployment} already runs ${image}`,
          };
        },
      },
      {
        name: 'stable-rollout',
        label: `Wait for the stable Deployment ${t.namespace}/${t.stableDeployment} to roll out`,
        run: async () => this.ready(await this.deployments.get(stable)),
      },
      {
        name: 'stable-100',
        label: 'Hand all traffic back to stable (canary weight 0)',
        weight: 0,
        run: moveTo(0),
      },
    ];
  }

  private async setImage(
    target: { context: string; namespace: string; deployment: string },
    container: string,
    image: string,
  ): Promise<'patched' | 'unchanged'> {
    const d = await this.deployments.get(target);
    const current = imageOf(d, container);
    if (!current.container) {
      throw new IntegrationError(
        'kubernetes',
        `Deployment ${target.namespace}/${target.deployment} has no container named "${container}", so its image cannot be set.`,
        { retryable: false, hint: 'Give the stable and canary Deployments the same container name.' },
      );
    }
    if (current.image === image) return 'unchanged';
    await this.deployments.setImage(target, container, image);
    return 'patched';
  }

  private ready(d: DeploymentSnapshot): Observation {
    if (d.paused) {
      return {
        done: false,
        message: `Deployment ${d.namespace}/${d.name} is paused`,
        failed: `Deployment ${d.namespace}/${d.name} is paused, so it will not roll out; resume it with 'kubectl rollout resume'.`,
      };
    }
    const status = rolloutStatus(d);
    return {
      done: status.done,
      message: status.message,
      ...(status.failed ? { failed: status.failed } : {}),
    };
  }
}
