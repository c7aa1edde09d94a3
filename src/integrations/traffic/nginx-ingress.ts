import type { V1Ingress } from '@kubernetes/client-node';
import { PatchStrategy } from '../kubernetes/clients.js';
import { INGRESSES } from '../kubernetes/resources.js';
import type { Wire } from '../kubernetes/types.js';

type Ingress = Wire<V1Ingress>;
import { IntegrationError } from '../../errors.js';
import { kubeError } from '../kubernetes/errors.js';
import { lastWriter, type Writer } from './last-writer.js';
import { PairedTrafficProvider } from './paired-provider.js';
import type { Observation, Stop, TrafficProvider, TrafficState, TrafficTarget } from './types.js';

export const CANARY_ANNOTATION = 'nginx.ingress.kubernetes.io/canary';
export const WEIGHT_ANNOTATION = 'nginx.ingress.kubernetes.io/canary-weight';
export const WEIGHT_TOTAL_ANNOTATION = 'nginx.ingress.kubernetes.io/canary-weight-total';

/** An integer as Go's strconv.Atoi reads it (ingress-nginx's annotation parser): optional sign, digits, nothing else. */
export function parseAnnotationInt(value: string | undefined): number | undefined {
  if (value === undefined || !/^[+-]?\d{1,18}$/.test(value)) return undefined;
  return Number.parseInt(value, 10);
}

/** What ingress-nginx makes of the canary annotations: the weight it routes, or why it ignores them. */
export function readCanary(annotations: Record<string, string>): { weight: number; invalid?: string } {
  if (annotations[CANARY_ANNOTATION] !== 'true') return { weight: 0 };
  const rawWeight = annotations[WEIGHT_ANNOTATION];
  const rawTotal = annotations[WEIGHT_TOTAL_ANNOTATION];
  const weight = rawWeight === undefined ? 0 : parseAnnotationInt(rawWeight);
  const total = rawTotal === undefined ? 100 : parseAnnotationInt(rawTotal);
  // An invalid value makes ingress-nginx fall back to canary=false, weight 0, total 100 (canary/main.go).
  if (weight === undefined)
    return { weight: 0, invalid: `canary-weight ${JSON.stringify(rawWeight)} is not an integer` };
  if (total === undefined)
    return { weight: 0, invalid: `canary-weight-total ${JSON.stringify(rawTotal)} is not an integer` };
  if (weight <= 0) return { weight: 0 };
  return { weight: Math.min(100, Math.round((weight / effectiveTotal(total)) * 100)) };
}

/** The weight ingress-nginx applies, in percent of requests (0 when it ignores the canary). */
export function effectiveWeight(annotations: Record<string, string>): number {
  return readCanary(annotations).weight;
}

/** `canary-weight-total` counts only above 100 (balancer.lua); otherwise weights are percentages. */
function effectiveTotal(total: number | undefined): number {
  return total !== undefined && total > 100 ? total : 100;
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

  private async ingress(t: TrafficTarget): Promise<Ingress> {
    try {
      return await (
        await this.clients.for(t.context)
      ).get<Ingress>({ ...INGRESSES, namespace: t.namespace, name: t.object });
    } catch (err) {
      throw kubeError(err, `Ingress ${t.namespace}/${t.object}`, t.context);
    }
  }

  async read(t: TrafficTarget): Promise<TrafficState> {
    const [ingress, images] = await Promise.all([this.ingress(t), this.pair.images(t)]);
    const annotations = ingress.metadata?.annotations ?? {};
    const { weight, invalid } = readCanary(annotations);
    return {
      weight,
      ...images,
      idle: weight === 0,
      generation: ingress.metadata?.generation ?? 0,
      summary: `${this.describe(t)}: canary ${JSON.stringify(annotations[CANARY_ANNOTATION] ?? 'unset')}, canary-weight ${JSON.stringify(annotations[WEIGHT_ANNOTATION] ?? 'unset')} → ${weight} % to the canary${invalid ? ` (${invalid}, so ingress-nginx ignores the canary)` : ''}`,
    };
  }

  async advance(t: TrafficTarget, stop: Stop): Promise<'patched' | 'unchanged'> {
    const annotations = (await this.ingress(t)).metadata?.annotations ?? {};
    const rawTotal = annotations[WEIGHT_TOTAL_ANNOTATION];
    const total = rawTotal === undefined ? 100 : parseAnnotationInt(rawTotal);
    if (total === undefined && stop.weight > 0) {
      throw new IntegrationError(
        'kubernetes',
        `${this.describe(t)} has canary-weight-total ${JSON.stringify(rawTotal)}, which is not an integer, so ingress-nginx ignores its canary weights; backout set nothing.`,
        { retryable: false, hint: 'Fix or remove that annotation, then start the canary again.' },
      );
    }
    const wanted = String(Math.round((stop.weight * effectiveTotal(total)) / 100));
    if (annotations[CANARY_ANNOTATION] === 'true' && annotations[WEIGHT_ANNOTATION] === wanted)
      return 'unchanged';
    const body = { metadata: { annotations: { [CANARY_ANNOTATION]: 'true', [WEIGHT_ANNOTATION]: wanted } } };
    try {
      await (
        await this.clients.for(t.context)
      ).patch({ ...INGRESSES, namespace: t.namespace, name: t.object }, body, PatchStrategy.MergePatch);
    } catch (err) {
      throw kubeError(err, `Ingress ${t.namespace}/${t.object}`, t.context);
    }
    return 'patched';
  }

  async observe(t: TrafficTarget, stop: Stop): Promise<Observation> {
    // An Ingress has no status for canary weights: what is written is what the controller serves.
    const { weight, invalid } = readCanary((await this.ingress(t)).metadata?.annotations ?? {});
    return weight === stop.weight
      ? { done: true, message: `canary-weight ${weight} on ${this.describe(t)}` }
      : {
          done: false,
          message: `${this.describe(t)} is at ${weight} %, not ${stop.weight} %${invalid ? ` (${invalid})` : ''}`,
        };
  }

  async lastWriter(t: TrafficTarget): Promise<Writer | undefined> {
    const ingress = await this.ingress(t);
    return lastWriter(
      ingress.metadata?.managedFields,
      [CANARY_ANNOTATION, WEIGHT_ANNOTATION, WEIGHT_TOTAL_ANNOTATION].map((a) => [
        'metadata',
        'annotations',
        a,
      ]),
    );
  }

  aborted(t: TrafficTarget): Promise<Observation> {
    return this.observe(t, { weight: 0 });
  }
}
