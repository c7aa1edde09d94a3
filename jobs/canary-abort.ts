import { formatDuration } from '../src/config/duration.js';
import { IntegrationError } from '../src/errors.js';
import { argoAfterAbort } from '../src/integrations/traffic/argo-plugin.js';
import type { TrafficTarget } from '../src/integrations/traffic/types.js';
import type { JobDefinition, Step } from '../src/queue/job-definition.js';
import { requesterText } from '../src/slack/cards.js';
import { abortThroughCanary, auditAbortOnce, byOf } from './canary-abort-signal.js';
import type { JobDeps } from './deps.js';

/**
 * Returning a canary's traffic to stable: when no canary job is running (it failed, or was
 * started by hand) by setting its weight to 0; when an alert asked while one runs, by
 * signalling that job to abort (`signal`) and waiting for it.
 */
export interface CanaryAbortPlan {
  service: string;
  environment: string;
  target: TrafficTarget;
  /** The canary's weight when the abort was asked for. */
  weight: number;
  /** The running canary request to signal; absent: set the weight to 0 directly. */
  signal?: string;
  /** The canary request this abort follows, when there is one. */
  of?: string;
  timeoutMs: number;
}

const abort: Step<CanaryAbortPlan, JobDeps> = {
  name: 'abort',
  label: 'Return all traffic to stable',
  dryRun: 'skip',
  async run(ctx) {
    const { plan } = ctx;
    if (plan.signal) return abortThroughCanary(ctx);
    const p = ctx.deps.traffic.for(plan.target.provider);
    const startedAt = (ctx.state.startedAt as number | undefined) ?? Date.now();
    if (ctx.state.startedAt === undefined) await ctx.save({ startedAt });
    const result = await p.abort(plan.target);
    if (result === 'patched') await ctx.save({ patched: true });
    // 'waiting': the provider cannot act yet; never count that as "already on stable".
    const seen =
      result === 'waiting'
        ? { done: false, message: (await p.read(plan.target)).summary }
        : await p.aborted(plan.target);
    if (!seen.done) {
      if (Date.now() - startedAt > plan.timeoutMs) {
        throw new IntegrationError(
          'kubernetes',
          `Could not confirm that all traffic is back on stable after ${formatDuration(plan.timeoutMs)}: ${seen.message}.`,
          { retryable: false, hint: `Check ${p.describe(plan.target)} by hand; Retry repeats the abort.` },
        );
      }
      await ctx.progress(seen.message);
      return { again: 1_000 };
    }
    const outcome = ctx.state.patched
      ? `aborted by ${requesterText(byOf(ctx))} at ${plan.weight} %: all traffic on stable`
      : 'no-op: all traffic was already on stable';
    await auditAbortOnce(ctx, outcome, {
      weight: plan.weight,
      ...(plan.of ? { canaryRequest: plan.of } : {}),
    });
    await ctx.save({ outcome });
    const after = plan.target.provider === 'argo-rollouts' ? ` ${argoAfterAbort(plan.target)}` : '';
    // The provider's reading names the object already ("HTTPRoute shop/api: …").
    return { finish: outcome, detail: `All traffic on stable — ${seen.message}.${after}` };
  },
};

export const canaryAbortJob: JobDefinition<CanaryAbortPlan, JobDeps> = {
  kind: 'canary-abort',
  steps: [abort],
  describe(plan) {
    const t = plan.target;
    if (plan.signal)
      return [
        `*Canary* \`${plan.signal}\` is running (at ${plan.weight} %): its job is told to abort and returns all traffic to stable itself (${t.provider === 'argo-rollouts' ? `Rollout \`${t.namespace}/${t.object}\` aborted` : `canary weight → 0 %`}, context \`${t.context}\`).`,
        `This request waits up to ${formatDuration(plan.timeoutMs)} for that canary to end, then checks that all traffic is on stable.`,
      ];
    return [
      `*Traffic* ${t.provider === 'argo-rollouts' ? `Rollout \`${t.namespace}/${t.object}\`: \`kubectl argo rollouts abort\`` : `${t.provider === 'nginx-ingress' ? 'canary Ingress' : 'HTTPRoute'} \`${t.namespace}/${t.object}\`: canary weight ${plan.weight} % → 0 %`} (context \`${t.context}\`)`,
      plan.of
        ? `Follows canary request \`${plan.of}\`, which is no longer running.`
        : 'No canary request is running.',
    ];
  },
};
