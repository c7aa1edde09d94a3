import { PatchStrategy, type KubeClients } from '../kubernetes/clients.js';
import { IntegrationError } from '../../errors.js';
import { isKubeApiError, kubeError } from '../kubernetes/errors.js';
import {
  ABORT_PATCH,
  abortTaken,
  fullyPromoted,
  observed,
  pausedAtStep,
  promotePatches,
  rolloutPhase,
  rolloutStops,
  rolloutWeight,
  steps,
  type Rollout,
} from './argo-plugin.js';
import { lastWriter, type Writer } from './last-writer.js';
import type {
  Observation,
  PromotionAction,
  Stop,
  TrafficProvider,
  TrafficState,
  TrafficTarget,
} from './types.js';

const ROLLOUTS = { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts' } as const;

/**
 * Argo Rollouts: the Rollout's own steps drive the weights. backout stops where the Rollout
 * pauses indefinitely, moves on with the plugin's `promote`, goes to 100 % with `promote
 * --full`, and aborts with `abort` — the same JSON merge patches the kubectl plugin sends,
 * to the status subresource first and to the main resource when that answers 404.
 */
export class ArgoRolloutsProvider implements TrafficProvider {
  readonly name = 'argo-rollouts' as const;

  constructor(private readonly clients: KubeClients) {}

  describe(t: TrafficTarget): string {
    return `Rollout ${t.namespace}/${t.object}`;
  }

  async get(t: TrafficTarget): Promise<Rollout> {
    try {
      return await (
        await this.clients.for(t.context)
      ).get<Rollout>({ ...ROLLOUTS, namespace: t.namespace, name: t.object });
    } catch (err) {
      throw kubeError(err, `Rollout ${t.namespace}/${t.object}`, t.context);
    }
  }

  async read(t: TrafficTarget): Promise<TrafficState> {
    const ro = await this.get(t);
    const container = ro.spec?.template?.spec?.containers?.[0];
    const promoted = fullyPromoted(ro);
    const aborted = ro.status?.abort === true;
    const weight = rolloutWeight(ro);
    // Not yet observed: a new template may be about to start a canary, so it is not idle.
    const { phase, message } = rolloutPhase(ro);
    const n = steps(ro).length;
    return {
      weight,
      ...(promoted && container?.image ? { stableImage: container.image } : {}),
      ...(!promoted && container?.image ? { canaryImage: container.image } : {}),
      ...(container ? { container: container.name } : {}),
      idle: observed(ro) && (promoted || aborted),
      aborted,
      generation: ro.metadata?.generation ?? 0,
      summary: `${this.describe(t)}: ${phase}${message ? ` (${message})` : ''}, step ${Math.min(ro.status?.currentStepIndex ?? n, n)} of ${n}, ${weight} % to the canary`,
    };
  }

  async stops(t: TrafficTarget, configured: number[]): Promise<{ stops: Stop[]; note?: string }> {
    const ro = await this.get(t);
    if (ro.spec?.strategy?.blueGreen || !ro.spec?.strategy?.canary) {
      throw new IntegrationError(
        'kubernetes',
        `${this.describe(t)} does not use the canary strategy, so it has no weights to walk.`,
        { retryable: false },
      );
    }
    const stops = rolloutStops(ro);
    if (stops.length === 0) {
      throw new IntegrationError(
        'kubernetes',
        `${this.describe(t)} has no indefinite \`pause: {}\` step, so Argo would take it to 100 % without waiting for backout's analysis and approval.`,
        {
          retryable: false,
          hint: 'Add `- pause: {}` after each setWeight the canary should stop at (e.g. 5, 20, 50).',
        },
      );
    }
    const wanted = configured.filter((w) => w < 100);
    const same = wanted.length === stops.length && wanted.every((w, i) => stops[i]!.weight === w);
    return {
      stops,
      ...(same
        ? {}
        : {
            note: `The Rollout's own steps decide the weights: it pauses at ${stops.map((s) => `${s.weight} %`).join(', ')}; the configured steps (${configured.join(', ')}) do not apply to Argo Rollouts.`,
          }),
    };
  }

  async deployCanary(t: TrafficTarget, container: string, image: string): Promise<'patched' | 'unchanged'> {
    const ro = await this.get(t);
    const containers = ro.spec?.template?.spec?.containers ?? [];
    const index = containers.findIndex((c) => c.name === container);
    if (index < 0) {
      throw new IntegrationError(
        'kubernetes',
        `${this.describe(t)} has no container named "${container}" in its pod template.`,
        { retryable: false },
      );
    }
    if (containers[index]!.image === image) return 'unchanged';
    const at = `/spec/template/spec/containers/${index}`;
    await this.patch(
      t,
      [
        { op: 'test', path: `${at}/name`, value: container },
        { op: 'replace', path: `${at}/image`, value: image },
      ],
      PatchStrategy.JsonPatch,
    );
    return 'patched';
  }

  async canaryReady(t: TrafficTarget): Promise<Observation> {
    const ro = await this.get(t);
    const { phase, message } = rolloutPhase(ro);
    if (phase === 'Degraded')
      return { done: false, message, failed: `${this.describe(t)} is Degraded: ${message}` };
    if (!observed(ro)) return { done: false, message };
    return {
      done: true,
      message: `${this.describe(t)} picked up the new pod template (${phase}${message ? `: ${message}` : ''})`,
    };
  }

  async advance(t: TrafficTarget, stop: Stop): Promise<'patched' | 'unchanged' | 'waiting'> {
    const ro = await this.get(t);
    const index = ro.status?.currentStepIndex ?? 0;
    if (stop.stepIndex === undefined) throw new Error('an Argo Rollouts stop needs its step index');
    if (index >= stop.stepIndex) return 'unchanged';
    // Move on only from a pause step the controller is holding at, as a person would.
    const step = steps(ro)[index];
    if (ro.status?.abort || ro.spec?.paused || !pausedAtStep(ro) || step?.pause?.duration !== undefined)
      return 'waiting';
    await this.promote(t, ro, false);
    return 'patched';
  }

  async observe(t: TrafficTarget, stop: Stop): Promise<Observation> {
    const ro = await this.get(t);
    const { phase, message } = rolloutPhase(ro);
    const n = steps(ro).length;
    if (ro.status?.abort || phase === 'Degraded') {
      const why = `${this.describe(t)} is Degraded${message ? `: ${message}` : ''}`;
      return { done: false, message: why, failed: why };
    }
    if (ro.spec?.paused)
      return {
        done: false,
        message: `${this.describe(t)} is manually paused (spec.paused); resume it or abort`,
      };
    const index = ro.status?.currentStepIndex ?? 0;
    const weight = rolloutWeight(ro);
    if (observed(ro) && index === stop.stepIndex && pausedAtStep(ro) && weight === stop.weight)
      return {
        done: true,
        message: `${this.describe(t)} paused at step ${index + 1} of ${n} with ${weight} % to the canary`,
      };
    return {
      done: false,
      message: `${this.describe(t)} ${phase}${message ? ` (${message})` : ''} at step ${Math.min(index + 1, n)} of ${n}, ${weight} % to the canary`,
    };
  }

  promotion(t: TrafficTarget): PromotionAction[] {
    return [
      {
        name: 'promote-full',
        changesStable: true,
        label: `Fully promote ${this.describe(t)} (promote --full)`,
        run: async () => {
          const ro = await this.get(t);
          if (fullyPromoted(ro))
            return { done: true, message: `${this.describe(t)} is already fully promoted` };
          if (ro.status?.promoteFull) return { done: true, message: `rollout '${t.object}' fully promoted` };
          await this.promote(t, ro, true);
          return { done: true, message: `rollout '${t.object}' fully promoted` };
        },
      },
      {
        name: 'healthy',
        label: `Wait for ${this.describe(t)} to be Healthy on the new version`,
        run: async () => {
          const ro = await this.get(t);
          const { phase, message } = rolloutPhase(ro);
          if (phase === 'Degraded') {
            const why = `${this.describe(t)} is Degraded${message ? `: ${message}` : ''}`;
            return { done: false, message: why, failed: why };
          }
          if (fullyPromoted(ro) && phase === 'Healthy')
            return { done: true, message: `${this.describe(t)} is Healthy: stable is the new version` };
          return { done: false, message: `${this.describe(t)} ${phase}${message ? ` (${message})` : ''}` };
        },
      },
    ];
  }

  /**
   * `kubectl argo rollouts abort`, once the controller has observed the spec: an abort set before
   * it sees a new template would be cleared by that template's reset, and the canary would go on.
   */
  async abort(t: TrafficTarget): Promise<'patched' | 'unchanged' | 'waiting'> {
    const ro = await this.get(t);
    if (!observed(ro)) return 'waiting';
    if (ro.status?.abort || fullyPromoted(ro)) return 'unchanged';
    const where = await this.patchStatus(t, ABORT_PATCH);
    if (where === 'no-subresource') await this.patch(t, ABORT_PATCH, PatchStrategy.MergePatch);
    return 'patched';
  }

  async aborted(t: TrafficTarget): Promise<Observation> {
    const ro = await this.get(t);
    const weight = rolloutWeight(ro);
    if (weight === 0 && fullyPromoted(ro))
      return { done: true, message: `${this.describe(t)}: all traffic on the stable ReplicaSet` };
    if (weight === 0 && abortTaken(ro)) {
      const image = ro.spec?.template?.spec?.containers?.[0]?.image;
      return {
        done: true,
        message: `${this.describe(t)} is aborted (Degraded): all traffic on the stable ReplicaSet, while spec.template still names ${image ?? 'the canary version'}`,
      };
    }
    const { phase, message } = rolloutPhase(ro);
    return {
      done: false,
      message: `${this.describe(t)} ${phase}${message ? ` (${message})` : ''}, ${weight} % to the canary`,
    };
  }

  async lastWriter(t: TrafficTarget): Promise<Writer | undefined> {
    const ro = await this.get(t);
    return lastWriter(ro.metadata?.managedFields, [
      ['spec', 'template'],
      ['spec', 'paused'],
      ['status', 'abort'],
      ['status', 'promoteFull'],
      ['status', 'currentStepIndex'],
    ]);
  }

  /** `kubectl argo rollouts promote <name>` (no flags) on the Rollout as it is now: the Argo Rollouts gate's Approve. */
  async promoteStep(t: TrafficTarget): Promise<void> {
    await this.promote(t, await this.get(t), false);
  }

  /** promote.go's order: the status patch first (404: the unified patch goes to the main resource), then the spec patch. */
  private async promote(t: TrafficTarget, ro: Rollout, full: boolean): Promise<void> {
    const patches = promotePatches(ro, full);
    let spec = patches.spec;
    if (patches.status) {
      const where = await this.patchStatus(t, patches.status);
      if (where === 'no-subresource') spec = patches.unified;
    }
    if (spec) await this.patch(t, spec, PatchStrategy.MergePatch);
  }

  private async patchStatus(t: TrafficTarget, body: object): Promise<'status' | 'no-subresource'> {
    try {
      await (
        await this.clients.for(t.context)
      ).patch(
        { ...ROLLOUTS, namespace: t.namespace, name: t.object, subresource: 'status' },
        body,
        PatchStrategy.MergePatch,
      );
      return 'status';
    } catch (err) {
      // Controllers before v0.10 serve no status subresource: the plugin then patches the main resource.
      if (isKubeApiError(err) && err.code === 404) return 'no-subresource';
      throw kubeError(err, `Rollout ${t.namespace}/${t.object} (status)`, t.context);
    }
  }

  private async patch(t: TrafficTarget, body: object, strategy: PatchStrategy): Promise<void> {
    try {
      await (
        await this.clients.for(t.context)
      ).patch({ ...ROLLOUTS, namespace: t.namespace, name: t.object }, body, strategy);
    } catch (err) {
      throw kubeError(err, `Rollout ${t.namespace}/${t.object}`, t.context);
    }
  }
}
