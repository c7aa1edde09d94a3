import { formatDuration } from '../src/config/duration.js';
import { asBackoutError, IntegrationError, StalePlanError } from '../src/errors.js';
import type { Observation } from '../src/integrations/traffic/types.js';
import type { JobDefinition, Step } from '../src/queue/job-definition.js';
import { auditContext } from '../src/queue/step-runner.js';
import { esc, type CardButton } from '../src/slack/cards.js';
import { gateLine } from '../src/gates/types.js';
import { hasChecks, readingsLine } from './canary-analysis.js';
import {
  provider,
  returnToStable,
  saveWalk,
  show,
  signals,
  startAbort,
  totalSteps,
  walkOf,
  type CanaryPlan,
} from './canary-shared.js';
import { guardSplit } from './canary-guard.js';
import { round, walk } from './canary-walk.js';
import type { JobDeps } from './deps.js';
import { holdTarget } from './hold-target.js';
import { plural } from '../src/text/plural.js';

export type { CanaryPlan } from './canary-shared.js';

const PROVIDER_NAMES = {
  'argo-rollouts': 'Argo Rollouts',
  'nginx-ingress': 'NGINX Ingress',
  'gateway-api': 'Gateway API',
} as const;

const preflight: Step<CanaryPlan, JobDeps> = {
  name: 'preflight',
  label: 'Check live traffic against the plan',
  async run(ctx) {
    const { plan } = ctx;
    const p = provider(ctx);
    const live = await p.read(plan.target);
    const moved: string[] = [];
    if (!live.idle || live.weight !== plan.from.weight)
      moved.push(`a canary is in progress (${live.weight} % to the canary)`);
    if (live.generation !== plan.from.generation)
      moved.push(
        `${p.describe(plan.target)} changed (generation ${plan.from.generation} → ${live.generation})`,
      );
    if (plan.stableImage && live.stableImage && live.stableImage !== plan.stableImage)
      moved.push(`stable now runs ${live.stableImage}, not ${plan.stableImage}`);
    if (moved.length > 0) {
      throw new StalePlanError(`The plan is stale: ${moved.join('; ')}. Nothing was changed.`, {
        hint: `Run /canary ${plan.service} --env ${plan.environment} status, then start again.`,
      });
    }
    return { detail: `${live.summary}; stable \`${live.stableImage ?? 'unknown'}\` as planned.` };
  },
};

const lock = holdTarget<CanaryPlan>({
  refused: 'the canary did not start and nothing was changed.',
  holding: " for the canary's whole life: no other mutating job can act on it meanwhile.",
});

const deploy: Step<CanaryPlan, JobDeps> = {
  name: 'deploy',
  label: 'Put the canary workload on the new image',
  dryRun: 'skip',
  async run(ctx) {
    const { plan } = ctx;
    if (ctx.state.aborting) return returnToStable(ctx);
    const sig = await signals(ctx);
    if (sig.abort)
      return startAbort(ctx, walkOf(ctx), {
        auto: false,
        by: sig.abort.by,
        reason: sig.abort.reason ?? 'abort requested',
      });
    const p = provider(ctx);
    if (!ctx.state.deployed) {
      const result = await p.deployCanary(plan.target, plan.container, plan.image);
      await ctx.save({ deployed: true, deployResult: result, deployStartedAt: Date.now() });
    }
    const ready = await p.canaryReady(plan.target);
    if (ready.failed) {
      return startAbort(ctx, walkOf(ctx), {
        auto: true,
        reason: `the canary workload did not become ready: ${ready.failed}`,
      });
    }
    if (!ready.done) {
      if (Date.now() - (ctx.state.deployStartedAt as number) > plan.timeoutMs) {
        return startAbort(ctx, walkOf(ctx), {
          auto: true,
          reason: `the canary workload was not ready after ${formatDuration(plan.timeoutMs)}: ${ready.message}`,
        });
      }
      await ctx.progress(ready.message);
      return { again: 1_000 };
    }
    const what =
      plan.target.provider === 'argo-rollouts'
        ? `${p.describe(plan.target)} pod template`
        : `deployment.apps/${plan.target.canaryDeployment}`;
    return {
      detail: `${what} ${ctx.state.deployResult === 'unchanged' ? 'already ran' : 'set to'} \`${plan.image}\` (container ${plan.container}). ${ready.message}.`,
    };
  },
};

/**
 * Promotion after the Approve, one idempotent action at a time (the provider's list). Analysis
 * keeps running until the last action is done, and before each action the split must still be
 * where backout left it. A failed check, a failed action or a final error returns all traffic to
 * stable (weight 0) rather than leaving the canary with its share.
 */
const promote: Step<CanaryPlan, JobDeps> = {
  name: 'promote',
  label: 'Promote: stable takes the new version, then all traffic goes back to stable',
  dryRun: 'skip',
  async run(ctx) {
    const { plan } = ctx;
    if (ctx.state.aborting) return returnToStable(ctx);
    await ctx.deps.locks.extend(ctx.request.target, ctx.request.id);
    const actions = provider(ctx).promotion(plan.target, plan.container, plan.image);
    let index = (ctx.state.promotionIndex as number | undefined) ?? 0;
    const stableChanged = () => actions.slice(0, index + 1).some((a) => a.changesStable);
    const sig = await signals(ctx);
    const w = walkOf(ctx);
    if (sig.abort)
      return startAbort(ctx, w, {
        auto: false,
        by: sig.abort.by,
        reason: sig.abort.reason ?? 'abort requested during promotion',
        stableChanged: actions.slice(0, index).some((a) => a.changesStable),
      });
    for (; index < actions.length; index++) {
      const action = actions[index]!;
      await guardSplit(
        ctx,
        w,
        plan.target.provider === 'argo-rollouts'
          ? 'any'
          : [w.weight, ...(action.weight !== undefined ? [action.weight] : [])],
      );
      if (Date.now() >= (w.nextRoundAt ?? 0)) {
        const stopped = await round(ctx, w, { stableChanged: stableChanged() });
        if (stopped) return stopped;
      }
      const startedAt = (ctx.state.actionStartedAt as number | undefined) ?? Date.now();
      if (ctx.state.actionStartedAt === undefined) {
        await ctx.save({ actionStartedAt: startedAt });
        await show(ctx, w, 'promoting', `:rocket: Promoting \`${plan.image}\`: ${action.label}.`);
      }
      let seen: Observation;
      try {
        seen = await action.run();
      } catch (err) {
        const e = asBackoutError(err);
        if (e instanceof IntegrationError && e.retryable) throw err;
        seen = { done: false, message: e.message, failed: e.message };
      }
      if (seen.failed || (!seen.done && Date.now() - startedAt > plan.timeoutMs)) {
        return startAbort(ctx, w, {
          auto: true,
          reason: `promotion failed at "${action.label}": ${seen.failed ?? `not done after ${formatDuration(plan.timeoutMs)} (${seen.message})`}`,
          stableChanged: stableChanged(),
        });
      }
      if (!seen.done) {
        await ctx.progress(`${action.label}: ${seen.message}`);
        return { again: Math.max(250, Math.min(1_000, (w.nextRoundAt ?? 0) - Date.now())) };
      }
      if (action.weight !== undefined && ctx.state.auditedAction !== action.name) {
        await ctx.deps.audit.append({
          type: 'canary.weight',
          ...auditContext(ctx.request),
          details: {
            weight: action.weight,
            previous: w.weight,
            step: totalSteps(plan),
            of: totalSteps(plan),
            provider: plan.target.provider,
            image: plan.image,
            promotion: action.name,
          },
        });
        w.weight = action.weight;
        await saveWalk(ctx, w);
        await ctx.save({ auditedAction: action.name });
      }
      await ctx.note(`promote-${action.name}`, `:white_check_mark: ${action.label}: ${seen.message}.`);
      await ctx.save({ promotionIndex: index + 1, actionStartedAt: undefined });
    }
    return {
      detail: `\`${plan.image}\` is now stable and serves all of ${plan.service}'s traffic in ${plan.environment}. Analysis ran ${plural(w.rounds, 'round')} to the end, failed checks ${w.failedChecks} of ${plan.maxFailedChecks}.`,
    };
  },
};

const report: Step<CanaryPlan, JobDeps> = {
  name: 'report',
  label: 'Report the outcome',
  async run(ctx) {
    const { plan } = ctx;
    if (ctx.dryRun) {
      await ctx.save({ outcome: 'dry run: nothing was changed' });
      return {
        detail: `DRY_RUN: would have walked \`${plan.image}\` through ${plan.stops.map((s) => `${s.weight} %`).join(' → ')} → 100 %. Nothing was changed.`,
      };
    }
    const w = walkOf(ctx);
    const outcome = `promoted: ${plan.image} is stable`;
    const text = `:white_check_mark: *${plan.service} in ${plan.environment} runs \`${plan.image}\` as stable*, with all traffic.\nAnalysis: ${plural(w.rounds, 'round')}, failed checks ${w.failedChecks} of ${plan.maxFailedChecks}. Last: ${readingsLine(w.last)}.`;
    await ctx.save({ outcome });
    await ctx.note('outcome', text);
    await show(ctx, w, 'finished', `:white_check_mark: \`${plan.image}\` promoted: stable, all traffic.`);
    return { detail: `Outcome: ${outcome}.` };
  },
};

export function describeCanary(plan: CanaryPlan): string[] {
  const t = plan.target;
  const lines = [
    `*Provider* ${PROVIDER_NAMES[t.provider]} — ${t.provider === 'argo-rollouts' ? 'Rollout' : t.provider === 'nginx-ingress' ? 'canary Ingress' : 'HTTPRoute'} \`${t.namespace}/${t.object}\` (context \`${t.context}\`)`,
    t.provider === 'argo-rollouts'
      ? `*Canary* Rollout pod template \`${plan.from.canaryImage ?? plan.stableImage ?? '?'}\` → \`${plan.image}\` (container \`${plan.container}\`)`
      : `*Canary* Deployment \`${t.canaryDeployment}\` → \`${plan.image}\` (container \`${plan.container}\`); stable \`${t.stableDeployment}\` runs \`${plan.stableImage ?? '?'}\``,
    `*Steps* ${plan.stops.map((s) => `${s.weight} %`).join(' → ')} → 100 % (needs an Approve) · dwell ${formatDuration(plan.dwellMs)} each`,
    hasChecks(plan.health)
      ? `*Analysis* every ${formatDuration(Math.min(plan.intervalMs, plan.dwellMs))}: ${[
          ...(plan.health?.prometheus?.checks ?? []).map(
            (c) =>
              `${c.name}${c.max !== undefined ? ` ≤ ${c.max}` : ''}${c.min !== undefined ? ` ≥ ${c.min}` : ''}`,
          ),
          ...(plan.health?.probes.length ? [plural(plan.health.probes.length, 'probe')] : []),
        ].join(', ')}; abort at ${plural(plan.maxFailedChecks, 'failed check')}`
      : '*Analysis* none: this environment has no health checks, so steps advance on time alone',
  ];
  if (plan.gates?.length) lines.push('*Gates*', ...plan.gates.map(gateLine));
  if (plan.override)
    lines.push(
      `:rotating_light: *Break-glass* by <@${plan.override.by}>, overriding the failing gates: ${esc(plan.override.reason)}`,
    );
  if (plan.stopsNote) lines.push(`_${plan.stopsNote}_`);
  lines.push(
    t.provider === 'argo-rollouts'
      ? '*Promotion* `promote` between steps, `promote --full` after the Approve; `abort` returns traffic to stable.'
      : `*Promotion* after the Approve, as Flagger does: stable \`${t.stableDeployment}\` gets the canary's pod spec and rolls out, then all traffic goes back to stable and \`${t.canaryDeployment}\` is scaled to 0 — the canary never gets more than its current share. Analysis runs until the end; a failure returns all traffic to stable. Abort: weight 0.`,
  );
  return lines;
}

export const canaryJob: JobDefinition<CanaryPlan, JobDeps> = {
  kind: 'canary',
  steps: [preflight, lock, deploy, walk, promote, report],
  describe: describeCanary,
  buttons(request): CardButton[] {
    const abort: CardButton = {
      action: 'abort',
      text: 'Abort',
      style: 'danger',
      confirm: {
        title: 'Abort the canary?',
        text: 'All traffic returns to stable now. No approval is needed.',
        confirm: 'Abort',
      },
    };
    if (request.state === 'running' || request.state === 'approved') {
      return [
        {
          action: 'promote',
          text: 'Promote',
          style: 'primary',
          confirm: {
            title: 'Promote the canary?',
            text: 'Before the last step: analyse now and go to the next step if healthy. At the approval gate: approve the move to 100 % (approvers only).',
            confirm: 'Promote',
          },
        },
        abort,
      ];
    }
    return request.state === 'failed' ? [abort] : [];
  },
};
