import { PatchStrategy } from '../kubernetes/clients.js';
import { IntegrationError } from '../../errors.js';
import { kubeError } from '../kubernetes/errors.js';
import { lastWriter, type ManagedFieldsEntry, type Writer } from './last-writer.js';
import { PairedTrafficProvider } from './paired-provider.js';
import type { Observation, Stop, TrafficProvider, TrafficState, TrafficTarget } from './types.js';

const ROUTE = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' } as const;

interface BackendRef {
  name?: string;
  weight?: number;
  [k: string]: unknown;
}
interface RouteCondition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}
export interface HttpRoute {
  metadata?: { generation?: number; name?: string; namespace?: string; managedFields?: ManagedFieldsEntry[] };
  spec?: { rules?: { backendRefs?: BackendRef[] }[] };
  status?: {
    parents?: { parentRef?: { name?: string; namespace?: string }; conditions?: RouteCondition[] }[];
  };
}

/** A rule that splits between the stable and the canary backend, by index. */
export interface Split {
  rule: number;
  stable: number;
  canary: number;
  stableWeight: number | undefined;
  canaryWeight: number | undefined;
  /** Other backends of the rule (a third version, a legacy service): they keep their share. */
  others: { index: number; name: string; weight: number | undefined }[];
  /**
   * The canary's share of what stable and canary carry together, in percent. Weights are
   * relative (weight / sum of the rule's weights), so other backends do not dilute it.
   */
  percent: number;
}

/** The Gateway API default weight is 1. */
const w = (weight: number | undefined) => weight ?? 1;

/** Every rule of the route that names the canary backend, which must also name the stable one. */
export function splitsOf(route: HttpRoute, t: TrafficTarget): Split[] {
  const out: Split[] = [];
  (route.spec?.rules ?? []).forEach((rule, i) => {
    const refs = rule.backendRefs ?? [];
    const canary = refs.findIndex((r) => r.name === t.canaryBackend);
    if (canary < 0) return;
    const stable = refs.findIndex((r) => r.name === t.stableBackend);
    if (stable < 0) {
      throw new IntegrationError(
        'kubernetes',
        `Rule ${i} of HTTPRoute ${t.namespace}/${t.object} sends traffic to ${t.canaryBackend} but has no backendRef ${t.stableBackend}, so backout cannot split it.`,
        {
          retryable: false,
          hint: 'Name both backends in that rule, or set canary.stableBackend in the config.',
        },
      );
    }
    const canaryWeight = refs[canary]!.weight;
    const stableWeight = refs[stable]!.weight;
    const pair = w(canaryWeight) + w(stableWeight);
    out.push({
      rule: i,
      stable,
      canary,
      stableWeight,
      canaryWeight,
      others: refs
        .map((r, index) => ({ index, name: r.name ?? '', weight: r.weight }))
        .filter((o) => o.index !== stable && o.index !== canary),
      percent: pair === 0 ? 0 : Math.round((w(canaryWeight) / pair) * 100),
    });
  });
  if (out.length === 0) {
    throw new IntegrationError(
      'kubernetes',
      `HTTPRoute ${t.namespace}/${t.object} has no rule with the backendRefs ${t.stableBackend} and ${t.canaryBackend}.`,
      {
        retryable: false,
        hint: 'Add a rule with both backends, or set canary.stableBackend / canary.canaryBackend in the config.',
      },
    );
  }
  return out;
}

/**
 * The weights that give the canary `percent` of the pair's traffic. With only the two backends,
 * canary + stable = 100 as the ecosystem writes them. With others, the pair keeps its sum (so every
 * other backend keeps its share of the rule); a pair summing under 100 is scaled up, together
 * with the others, to allow whole percents.
 */
export function targetWeights(
  s: Split,
  percent: number,
  t: TrafficTarget,
  route: string,
): { canary: number; stable: number; others: number[] } {
  if (s.others.length === 0) return { canary: percent, stable: 100 - percent, others: [] };
  const pair = w(s.canaryWeight) + w(s.stableWeight);
  if (pair === 0) {
    throw new IntegrationError(
      'kubernetes',
      `Rule ${s.rule} of HTTPRoute ${route} gives ${t.stableBackend} and ${t.canaryBackend} weight 0 (its other backends take all traffic), so there is nothing to split.`,
      { retryable: false, hint: 'Give the stable backend a weight, then start the canary again.' },
    );
  }
  const factor = pair < 100 ? Math.ceil(100 / pair) : 1;
  const total = pair * factor;
  const canary = Math.round((percent * total) / 100);
  return { canary, stable: total - canary, others: s.others.map((o) => w(o.weight) * factor) };
}

/**
 * Why the route is not (yet) in effect, from `status.parents[].conditions` Accepted and
 * ResolvedRefs when the Gateway controller reports them; undefined when it is.
 */
export function routeConditions(route: HttpRoute): Observation | undefined {
  const generation = route.metadata?.generation ?? 0;
  for (const parent of route.status?.parents ?? []) {
    const name = parent.parentRef?.name ?? 'its Gateway';
    for (const type of ['Accepted', 'ResolvedRefs']) {
      const c = (parent.conditions ?? []).find((x) => x.type === type);
      if (!c) continue;
      if (c.observedGeneration !== undefined && c.observedGeneration < generation) {
        return {
          done: false,
          message: `waiting for ${name} to observe generation ${generation} of the route (its ${type} condition is for generation ${c.observedGeneration})`,
        };
      }
      if (c.status === 'False') {
        const why = `${name} reports ${type}=False (${c.reason ?? 'no reason'}): ${c.message ?? ''}`.trim();
        return { done: false, message: why, failed: why };
      }
      if (c.status !== 'True')
        return { done: false, message: `${name} reports ${type}=${c.status ?? 'Unknown'}` };
    }
  }
  return undefined;
}

/**
 * Gateway API HTTPRoute backend weights. Each weight change is a JSON patch that first
 * `test`s the backend's name at the index it was read from, then replaces its weight
 * (stable gets 100 − canary), so a route edited in between is refused rather than mangled;
 * the change counts once the parents' Accepted and ResolvedRefs conditions say so.
 */
export class GatewayApiProvider extends PairedTrafficProvider implements TrafficProvider {
  readonly name = 'gateway-api' as const;
  describe(t: TrafficTarget): string {
    return `HTTPRoute ${t.namespace}/${t.object}`;
  }

  private async route(t: TrafficTarget): Promise<HttpRoute> {
    try {
      return await (
        await this.clients.for(t.context)
      ).get<HttpRoute>({ ...ROUTE, namespace: t.namespace, name: t.object });
    } catch (err) {
      throw kubeError(err, `HTTPRoute ${t.namespace}/${t.object}`, t.context);
    }
  }

  async read(t: TrafficTarget): Promise<TrafficState> {
    const [route, images] = await Promise.all([this.route(t), this.pair.images(t)]);
    const splits = splitsOf(route, t);
    const weight = Math.max(...splits.map((s) => s.percent));
    const first = splits[0]!;
    const others = first.others.length
      ? `; ${first.others.map((o) => `${o.name} weight ${w(o.weight)}`).join(', ')} keep their share`
      : '';
    return {
      weight,
      ...images,
      idle: weight === 0,
      generation: route.metadata?.generation ?? 0,
      summary: `${this.describe(t)}: ${t.stableBackend} weight ${first.stableWeight ?? 1}, ${t.canaryBackend} weight ${first.canaryWeight ?? 1} → ${weight} % of stable's traffic to the canary${others}${splits.length > 1 ? ` (${splits.length} rules)` : ''}`,
    };
  }

  async advance(t: TrafficTarget, stop: Stop): Promise<'patched' | 'unchanged'> {
    const splits = splitsOf(await this.route(t), t).filter((s) => s.percent !== stop.weight);
    const ops: object[] = [];
    const set = (rule: number, index: number, name: string, current: number | undefined, value: number) => {
      if (current === value) return;
      const at = `/spec/rules/${rule}/backendRefs/${index}`;
      ops.push(
        { op: 'test', path: `${at}/name`, value: name },
        { op: current === undefined ? 'add' : 'replace', path: `${at}/weight`, value },
      );
    };
    for (const s of splits) {
      const to = targetWeights(s, stop.weight, t, `${t.namespace}/${t.object}`);
      set(s.rule, s.canary, t.canaryBackend, s.canaryWeight, to.canary);
      set(s.rule, s.stable, t.stableBackend, s.stableWeight, to.stable);
      s.others.forEach((o, i) => set(s.rule, o.index, o.name, o.weight, to.others[i]!));
    }
    if (ops.length === 0) return 'unchanged';
    try {
      await (
        await this.clients.for(t.context)
      ).patch({ ...ROUTE, namespace: t.namespace, name: t.object }, ops, PatchStrategy.JsonPatch);
    } catch (err) {
      throw kubeError(err, `HTTPRoute ${t.namespace}/${t.object}`, t.context);
    }
    return 'patched';
  }

  async observe(t: TrafficTarget, stop: Stop): Promise<Observation> {
    const route = await this.route(t);
    const off = splitsOf(route, t).find((s) => s.percent !== stop.weight);
    if (off) {
      return {
        done: false,
        message: `rule ${off.rule} of ${this.describe(t)} gives the canary ${off.percent} %, not ${stop.weight} %`,
      };
    }
    return (
      routeConditions(route) ?? {
        done: true,
        message: `${this.describe(t)}: ${splitWords(splitsOf(route, t)[0]!, t)}${route.status?.parents?.length ? ' (Accepted, ResolvedRefs)' : ''}`,
      }
    );
  }

  async lastWriter(t: TrafficTarget): Promise<Writer | undefined> {
    const route = await this.route(t);
    // backendRefs is an atomic list: whoever wrote the rules owns every weight in them.
    return lastWriter(route.metadata?.managedFields, [['spec', 'rules']]);
  }

  async aborted(t: TrafficTarget): Promise<Observation> {
    const seen = await this.observe(t, { weight: 0 });
    // A refused canary backend carries no traffic at weight 0: the abort is in effect.
    return seen.failed ? { done: true, message: `weights back to stable; note: ${seen.failed}` } : seen;
  }
}

/** "api-canary 20, api 80" (and the other backends), as the rule carries them. */
function splitWords(s: Split, t: TrafficTarget): string {
  const parts = [`${t.canaryBackend} ${w(s.canaryWeight)}`, `${t.stableBackend} ${w(s.stableWeight)}`];
  for (const o of s.others) parts.push(`${o.name} ${w(o.weight)}`);
  return parts.join(', ');
}
