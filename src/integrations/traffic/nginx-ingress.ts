import { PatchStrategy, setHeaderOptions, type V1Ingress } from '@kubernetes/client-node';
import { kubeError } from '../kubernetes/errors.js';
import { PairedTrafficProvider } from './paired-provider.js';
import type { Observation, Stop, TrafficProvider, TrafficState, TrafficTarget } from './types.js';

export const CANARY_ANNOTATION = 'nginx.ingress.kubernetes.io/canary';
export const WEIGHT_ANNOTATION = 'nginx.ingress.kubernetes.io/canary-weight';
export const WEIGHT_TOTAL_ANNOTATION = 'nginx.ingress.kubernetes.io/canary-weight-total';

/**
 * The weight ingress-nginx applies, read as its canary parser does: a canary that is not
 * enabled, or a value that does not parse, is weight 0; the total is 100 unless set above 100.
 */
export function effectiveWeight(annotations: Record<string, string>): number {
  if (annotations[CANARY_ANNOTATION] !== 'true') return 0;
  const weight = Number.parseInt(annotations[WEIGHT_ANNOTATION] ?? '', 10);
  if (!Number.isFinite(weight) || weight < 0) return 0;
  return Math.min(100, Math.round((weight / weightTotal(annotations)) * 100));
}

/** `canary-weight-total` counts only above 100 (balancer.lua); otherwise weights are percentages. */
function weightTotal(annotations: Record<string, string>): number {
  const total = Number.parseInt(annotations[WEIGHT_TOTAL_ANNOTATION] ?? '', 10);
  return Number.isFinite(total) && total > 100 ? total : 100;
}

/**
 * NGINX Ingress canaries (ingress-nginx): the canary Ingress carries
 * `nginx.ingress.kubernetes.io/canary: "true"` and `canary-weight: "<n>"`, set with a JSON
 * merge patch on its annotations. At weight 0 the canary stays enabled, as Flagger leaves it.
 */
export class NginxIngressProvider extends PairedTrafficProvider implements TrafficProvider {
  readonly name = 'nginx-ingress' as const;
  describe(t: TrafficTarget): string {
    return `canary Ingress ${t.namespace}/${t.object}`;
  }

  private async ingress(t: TrafficTarget): Promise<V1Ingress> {
    try {
      return await this.clients
        .for(t.context)
        .networking.readNamespacedIngress({ name: t.object, namespace: t.namespace });
    } catch (err) {
      throw kubeError(err, `Ingress ${t.namespace}/${t.object}`, t.context);
    }
  }

  async read(t: TrafficTarget): Promise<TrafficState> {
    const [ingress, images] = await Promise.all([this.ingress(t), this.pair.images(t)]);
    const annotations = ingress.metadata?.annotations ?? {};
    const weight = effectiveWeight(annotations);
    return {
      weight,
      ...images,
      idle: weight === 0,
      generation: ingress.metadata?.generation ?? 0,
      summary: `${this.describe(t)}: canary ${JSON.stringify(annotations[CANARY_ANNOTATION] ?? 'unset')}, canary-weight ${JSON.stringify(annotations[WEIGHT_ANNOTATION] ?? 'unset')} → ${weight} % to the canary`,
    };
  }

  async advance(t: TrafficTarget, stop: Stop): Promise<'patched' | 'unchanged'> {
    const annotations = (await this.ingress(t)).metadata?.annotations ?? {};
    const wanted = String(Math.round((stop.weight * weightTotal(annotations)) / 100));
    if (annotations[CANARY_ANNOTATION] === 'true' && annotations[WEIGHT_ANNOTATION] === wanted)
      return 'unchanged';
    const body = { metadata: { annotations: { [CANARY_ANNOTATION]: 'true', [WEIGHT_ANNOTATION]: wanted } } };
    try {
      await this.clients
        .for(t.context)
        .networking.patchNamespacedIngress(
          { name: t.object, namespace: t.namespace, body },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
    } catch (err) {
      throw kubeError(err, `Ingress ${t.namespace}/${t.object}`, t.context);
    }
    return 'patched';
  }

  async observe(t: TrafficTarget, stop: Stop): Promise<Observation> {
    // An Ingress has no status for canary weights: what is written is what the controller serves.
    const weight = effectiveWeight((await this.ingress(t)).metadata?.annotations ?? {});
    return weight === stop.weight
      ? { done: true, message: `canary-weight ${weight} on ${this.describe(t)}` }
      : { done: false, message: `${this.describe(t)} is at ${weight} %, not ${stop.weight} %` };
  }

  aborted(t: TrafficTarget): Promise<Observation> {
    return this.observe(t, { weight: 0 });
  }
}
