import { PatchStrategy, type KubeClients } from '../kubernetes/clients.js';
import { DEPLOYMENTS } from '../kubernetes/resources.js';
import { IntegrationError } from '../../errors.js';
import { kubeError } from '../kubernetes/errors.js';
import { rolloutStatus } from '../kubernetes/rollout-status.js';
import type { DeploymentSnapshot, Deployments, KubeTarget } from '../kubernetes/types.js';
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

/** Where promotion keeps the canary Deployment's replica count when it scales it to zero. */
export const CANARY_REPLICAS_ANNOTATION = 'backout.dev/canary-replicas';

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * The workload half shared by the providers that split traffic between two Deployments
 * (NGINX Ingress canaries and Gateway API backends): a stable and a canary Deployment.
 */
export class DeploymentPair {
  constructor(
    private readonly deployments: Deployments,
    private readonly clients: KubeClients,
  ) {}

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

  /** Sets the canary's image and, when an earlier promotion scaled it to zero, its replicas back. */
  async deployCanary(t: TrafficTarget, container: string, image: string): Promise<'patched' | 'unchanged'> {
    const result = await this.setImage(canaryTarget(t), container, image);
    const canary = await this.deployments.get(canaryTarget(t));
    if (canary.replicas > 0) return result;
    const saved = Number(canary.annotations[CANARY_REPLICAS_ANNOTATION]);
    const replicas = Number.isInteger(saved) && saved > 0 ? saved : 1;
    await this.patch(canaryTarget(t), { spec: { replicas } }, PatchStrategy.MergePatch);
    return 'patched';
  }

  async canaryReady(t: TrafficTarget): Promise<Observation> {
    const canary = await this.deployments.get(canaryTarget(t));
    if (canary.replicas === 0) {
      const why = `the canary Deployment ${t.namespace}/${t.canaryDeployment} is scaled to 0 replicas, so it cannot take traffic`;
      return { done: false, message: why, failed: why };
    }
    return this.ready(canary);
  }

  /**
   * Promotion the way Flagger does it, so that the canary never takes more traffic than it
   * already had: the stable Deployment gets the canary's pod spec and rolls out (kubectl
   * rollout status), all traffic goes back to stable (canary weight 0), then the canary
   * Deployment is scaled to zero (its replica count kept in an annotation for the next start).
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
    return [
      {
        name: 'stable-template',
        changesStable: true,
        label: `Give the stable Deployment ${t.namespace}/${t.stableDeployment} the canary's pod spec (${image})`,
        run: () => this.copyTemplate(t, container, image),
      },
      {
        name: 'stable-rollout',
        label: `Wait for the stable Deployment ${t.namespace}/${t.stableDeployment} to roll out`,
        run: async () => this.ready(await this.deployments.get(stable)),
      },
      {
        name: 'stable-100',
        label: 'Shift all traffic back to stable (canary weight 0)',
        weight: 0,
        run: async () => {
          await traffic.advance(t, { weight: 0 });
          return traffic.observe(t, { weight: 0 });
        },
      },
      {
        name: 'canary-scale-down',
        label: `Scale the canary Deployment ${t.namespace}/${t.canaryDeployment} down to 0`,
        run: () => this.scaleDown(t),
      },
    ];
  }

  /** Stable gets the canary's pod spec (its own labels and selector stay), as Flagger copies it to the primary. */
  private async copyTemplate(t: TrafficTarget, container: string, image: string): Promise<Observation> {
    const [stable, canary] = await Promise.all([
      this.deployments.get(stableTarget(t)),
      this.deployments.get(canaryTarget(t)),
    ]);
    const runs = imageOf(canary, container).image;
    if (runs !== image) {
      const why = `the canary Deployment ${t.namespace}/${t.canaryDeployment} runs ${runs ?? 'no such container'}, not the approved ${image}, so stable was not changed`;
      return { done: false, message: why, failed: why };
    }
    if (!imageOf(stable, container).container) {
      const why = `the stable Deployment ${t.namespace}/${t.stableDeployment} has no container named "${container}"`;
      return { done: false, message: why, failed: why };
    }
    if (sameJson(stable.template.spec, canary.template.spec))
      return {
        done: true,
        message: `deployment.apps/${t.stableDeployment} already has the canary's pod spec`,
      };
    await this.patch(
      stableTarget(t),
      [{ op: 'replace', path: '/spec/template/spec', value: canary.template.spec }],
      PatchStrategy.JsonPatch,
    );
    return {
      done: true,
      message: `deployment.apps/${t.stableDeployment} pod spec set to the canary's (${container}=${image})`,
    };
  }

  private async scaleDown(t: TrafficTarget): Promise<Observation> {
    const canary = await this.deployments.get(canaryTarget(t));
    const what = `deployment.apps/${t.canaryDeployment}`;
    if (canary.replicas === 0) return { done: true, message: `${what} is already scaled to 0` };
    await this.patch(
      canaryTarget(t),
      {
        metadata: { annotations: { [CANARY_REPLICAS_ANNOTATION]: String(canary.replicas) } },
        spec: { replicas: 0 },
      },
      PatchStrategy.MergePatch,
    );
    return {
      done: true,
      message: `${what} scaled from ${canary.replicas} to 0 (the next canary start scales it back to ${canary.replicas})`,
    };
  }

  private async patch(target: KubeTarget, body: object, strategy: PatchStrategy): Promise<void> {
    try {
      await (
        await this.clients.for(target.context)
      ).patch({ ...DEPLOYMENTS, namespace: target.namespace, name: target.deployment }, body, strategy);
    } catch (err) {
      throw kubeError(err, `Deployment ${target.namespace}/${target.deployment}`, target.context);
    }
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
