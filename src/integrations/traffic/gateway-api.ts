import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { IntegrationError } from '../../errors.js';
import { kubeError } from '../kubernetes/errors.js';
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
  metadata?: { generation?: number; name?: string; namespace?: string };
  spec?: { rules?: { backendRefs?: BackendRef[] }[] };
  status?: {
    parents?: { parentRef?: { name?: string; namespace?: string }; conditions?: RouteCondition[] }[];
  };
}

/** A rule that splits between the stable and the canary backend, by index. */
interface Split {
  rule: number;
  stable: number;
  canary: number;
  stableWeight: number | undefined;
  canaryWeight: number | undefined;
  /** The canary's share of the rule, in percent (weights are relative: weight / sum). */
  percent: number;
}

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
    // The Gateway API default weight is 1.
    const total = refs.reduce((sum, r) => sum + (r.weight ?? 1), 0);
    const canaryWeight = refs[canary]!.weight;
    out.push({
      rule: i,
      stable,
      canary,
      stableWeight: refs[stable]!.weight,
      canaryWeight,
      percent: total === 0 ? 0 : Math.round(((canaryWeight ?? 1) / total) * 100),
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
      return (await this.clients
        .for(t.context)
        .custom.getNamespacedCustomObject({ ...ROUTE, namespace: t.namespace, name: t.object })) as HttpRoute;
    } catch (err) {
      throw kubeError(err, `HTTPRoute ${t.namespace}/${t.object}`, t.context);
    }
  }

  async read(t: TrafficTarget): Promise<TrafficState> {
    const [route, images] = await Promise.all([this.route(t), this.pair.images(t)]);
    const splits = splitsOf(route, t);
    const weight = Math.max(...splits.map((s) => s.percent));
    const first = splits[0]!;
    return {
      weight,
      ...images,
      idle: weight === 0,
      generation: route.metadata?.generation ?? 0,
      summary: `${this.describe(t)}: ${t.stableBackend} weight ${first.stableWeight ?? 1}, ${t.canaryBackend} weight ${first.canaryWeight ?? 1} → ${weight} % to the canary${splits.length > 1 ? ` (${splits.length} rules)` : ''}`,
    };
  }

  async advance(t: TrafficTarget, stop: Stop): Promise<'patched' | 'unchanged'> {
    const splits = splitsOf(await this.route(t), t);
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
      set(s.rule, s.canary, t.canaryBackend, s.canaryWeight, stop.weight);
      set(s.rule, s.stable, t.stableBackend, s.stableWeight, 100 - stop.weight);
    }
    if (ops.length === 0) return 'unchanged';
    try {
      await this.clients
        .for(t.context)
        .custom.patchNamespacedCustomObject(
          { ...ROUTE, namespace: t.namespace, name: t.object, body: ops },
          setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
        );
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
        message: `${this.describe(t)}: ${t.canaryBackend} ${stop.weight}, ${t.stableBackend} ${100 - stop.weight}${route.status?.parents?.length ? ' (Accepted, ResolvedRefs)' : ''}`,
      }
    );
  }

  async aborted(t: TrafficTarget): Promise<Observation> {
    const seen = await this.observe(t, { weight: 0 });
    // A refused canary backend carries no traffic at weight 0: the abort is in effect.
    return seen.failed ? { done: true, message: `weights back to stable; note: ${seen.failed}` } : seen;
  }
}
