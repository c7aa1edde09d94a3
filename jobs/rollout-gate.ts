import { steps, type Rollout } from '../src/integrations/traffic/argo-plugin.js';
import type { TrafficTarget } from '../src/integrations/traffic/types.js';
import type { JobDefinition, Step } from '../src/queue/job-definition.js';
import type { CardButton } from '../src/slack/cards.js';
import type { JobDeps } from './deps.js';

/** An Argo Rollout, run by its own pipeline, paused at an indefinite `pause: {}` step. */
export interface RolloutGatePlan {
  service: string;
  environment: string;
  target: TrafficTarget;
  /** The step it is paused at, and the revision (pod template hash) that reached it. */
  stepIndex: number;
  podHash: string;
  weight: number;
  image?: string;
  steps: number;
}

/** Paused at step `stepIndex` of revision `podHash` — the place a person is asked about. */
export function pausedAtIndefiniteStep(ro: Rollout): { stepIndex: number; podHash: string } | undefined {
  const s = ro.status ?? {};
  const index = s.currentStepIndex;
  const step = index === undefined ? undefined : steps(ro)[index];
  if (!step?.pause || step.pause.duration !== undefined || !s.currentPodHash) return undefined;
  const paused =
    ro.spec?.paused === true || (s.pauseConditions ?? []).some((c) => c.reason === 'CanaryPauseStep');
  return paused && !s.abort ? { stepIndex: index!, podHash: s.currentPodHash } : undefined;
}

/** The gate's Abort button (the plugin's abort patch, through a `canary-abort` request). */
const ABORT: CardButton = {
  action: 'abort',
  text: 'Abort',
  style: 'danger',
  confirm: {
    title: 'Abort the rollout?',
    text: 'Sends `kubectl argo rollouts abort`: all traffic returns to stable; the Rollout stays Degraded with the new template.',
    confirm: 'Abort',
  },
};

const promote: Step<RolloutGatePlan, JobDeps> = {
  name: 'promote',
  label: 'Promote the Rollout past its pause (kubectl argo rollouts promote)',
  dryRun: 'skip',
  async run(ctx) {
    const { plan } = ctx;
    const ro = await ctx.deps.argo.get(plan.target);
    const here = pausedAtIndefiniteStep(ro);
    if (!here || here.stepIndex !== plan.stepIndex || here.podHash !== plan.podHash) {
      if (ctx.state.promoted) return { detail: 'Already promoted: the Rollout has moved past the pause.' };
      return {
        finish: `the Rollout is no longer paused at step ${plan.stepIndex + 1} of revision ${plan.podHash}; nothing was sent`,
        verdict: 'stale',
        failed: true,
      };
    }
    await ctx.save({ promoted: true });
    await ctx.deps.argo.promoteStep(plan.target);
    return {
      detail: `Sent the plugin's promote patches to Rollout ${plan.target.namespace}/${plan.target.object}: it leaves the pause at step ${plan.stepIndex + 1} of ${plan.steps}.`,
    };
  },
};

export function describeRolloutGate(plan: RolloutGatePlan): string[] {
  const t = plan.target;
  return [
    `*Rollout* \`${t.namespace}/${t.object}\` (context \`${t.context}\`) is paused at step ${plan.stepIndex + 1} of ${plan.steps} (\`pause: {}\`), canary at ${plan.weight} %${plan.image ? ` on \`${plan.image}\`` : ''}`,
    `*Approve* sends \`kubectl argo rollouts promote ${t.object}\`'s patches; *Abort* sends its \`abort\` patch (\`{"status":{"abort":true}}\`).`,
  ];
}

export const rolloutGateJob: JobDefinition<RolloutGatePlan, JobDeps> = {
  kind: 'rollout-gate',
  steps: [promote],
  describe: describeRolloutGate,
  pendingButtons: () => [ABORT],
};
