import type { HealthConfig } from '../src/config/schema.js';
import { formatDuration } from '../src/config/duration.js';
import { IntegrationError, StalePlanError } from '../src/errors.js';
import type { HealthReading } from '../src/integrations/health.js';
import { rolloutStatus } from '../src/integrations/kubernetes/rollout-status.js';
import type { ContainerImage, KubeTarget } from '../src/integrations/kubernetes/types.js';
import { planUndo, templateFingerprint } from '../src/integrations/kubernetes/undo.js';
import type { JobDefinition, Step, StepContext } from '../src/queue/job-definition.js';
import type { CardButton } from '../src/slack/cards.js';
import type { JobDeps } from './deps.js';
import { holdTarget } from './hold-target.js';
import { migrationLines, type MigrationMark } from '../commands/rollback-migrations.js';

export interface RollbackPlan {
  service: string;
  environment: string;
  target: KubeTarget;
  /** What the plan was computed from: a job refuses to act if these moved. */
  from: {
    revision: number;
    images: ContainerImage[];
    generation: number;
    resourceVersion: string;
    template: string;
  };
  to: { revision: number; replicaSet: string; images: ContainerImage[]; template: string };
  /** The revision the user asked for (0 = previous), for kubectl's messages. */
  requested: number;
  timeoutMs: number;
  health?: HealthConfig;
  /** Set when this request undoes an earlier rollback ("Roll forward"). */
  rollForwardOf?: string;
  /** The service's kill switch, offered on the plan card as the gentler move. */
  killSwitch?: string;
  /** Irreversible data migrations this rollback crosses (approved as break-glass). */
  migrations?: MigrationMark[];
}

type Ctx = StepContext<RollbackPlan, JobDeps>;

interface Verification {
  rounds: number;
  startedAt: number;
  failures: string[];
  last: HealthReading[];
}

/** Re-reads live state and refuses to go on if it is not what was approved. */
async function checkFresh(ctx: Ctx): Promise<'as-planned' | 'already-applied'> {
  const { plan } = ctx;
  const { deployment, revisions } = await ctx.deps.deployments.history(plan.target);
  const live = templateFingerprint(deployment.template);
  const target = revisions.find((r) => templateFingerprint(r.template) === plan.to.template);
  if (live === plan.to.template && ctx.state.applied) return 'already-applied';
  if (deployment.generation !== plan.from.generation || live !== plan.from.template) {
    throw new StalePlanError(
      `The plan is stale: Deployment ${plan.target.namespace}/${plan.target.deployment} changed after the plan was made ` +
        `(generation ${plan.from.generation} → ${deployment.generation}, now at revision ${deployment.revision} running ${deployment.template.spec?.containers?.map((c) => c.image).join(', ')}). Nothing was patched.`,
      { hint: 'Run /rollback again for a fresh plan against what is running now.' },
    );
  }
  if (deployment.paused) {
    throw new StalePlanError(
      "The Deployment was paused after the plan was made: you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again. Nothing was patched.",
    );
  }
  if (!target) {
    throw new StalePlanError(
      `The plan is stale: revision ${plan.to.revision}'s ReplicaSet (${plan.to.replicaSet}) is gone. Nothing was patched.`,
      {
        hint: 'Run /rollback again for a fresh plan.',
      },
    );
  }
  return 'as-planned';
}

const preflight: Step<RollbackPlan, JobDeps> = {
  name: 'preflight',
  label: 'Check live state against the plan',
  async run(ctx) {
    const fresh = await checkFresh(ctx);
    return {
      detail:
        fresh === 'as-planned'
          ? `Deployment still at generation ${ctx.plan.from.generation} as planned.`
          : 'Already applied by this job.',
    };
  },
};

const lock = holdTarget<RollbackPlan>({
  refused: 'this rollback did not run and nothing was patched.',
  holding: ': no other mutating job can act on it until this one ends.',
});

const apply: Step<RollbackPlan, JobDeps> = {
  name: 'apply',
  label: 'Restore the target revision’s pod template',
  dryRun: 'skip',
  async run(ctx) {
    const { plan } = ctx;
    const { deployment, revisions } = await ctx.deps.deployments.history(plan.target);
    const target = revisions.find((r) => templateFingerprint(r.template) === plan.to.template);
    if (ctx.state.applying && templateFingerprint(deployment.template) === plan.to.template) {
      // Our own patch landed before a crash: recognise it, do not patch twice.
      await ctx.save({ applied: true });
      return { detail: `Already restored by this job (Deployment at generation ${deployment.generation}).` };
    }
    await checkFresh(ctx);
    const undo = planUndo(
      deployment,
      target ? [target, ...revisions.filter((r) => r !== target)] : revisions,
      target?.revision ?? plan.to.revision,
    );
    if (undo.kind === 'error') throw new StalePlanError(`${undo.message}. Nothing was patched.`);
    if (undo.kind === 'noop') {
      await ctx.save({ applied: true, noop: true });
      return { finish: 'no-op: already at the target revision', detail: undo.message };
    }
    await ctx.save({ applying: true });
    const after = await ctx.deps.deployments.restoreTemplate(plan.target, undo.template, undo.annotations);
    await ctx.save({ applied: true, appliedGeneration: after.generation });
    return {
      detail: `deployment.apps/${plan.target.deployment} rolled back — pod template of revision ${plan.to.revision} (${plan.to.replicaSet}) restored; generation ${after.generation}.`,
    };
  },
};

const waitRollout: Step<RollbackPlan, JobDeps> = {
  name: 'wait',
  label: 'Wait for the rollout',
  dryRun: 'skip',
  async run(ctx) {
    const startedAt = (ctx.state.waitStartedAt as number | undefined) ?? Date.now();
    if (ctx.state.waitStartedAt === undefined) await ctx.save({ waitStartedAt: startedAt });
    let d;
    try {
      d = await ctx.deps.deployments.get(ctx.plan.target);
    } catch (err) {
      // A blip of the API server while watching is not a failed rollout: keep waiting, within the timeout.
      if (!(err instanceof IntegrationError) || !err.retryable || Date.now() - startedAt > ctx.plan.timeoutMs)
        throw err;
      await ctx.progress(
        `The Kubernetes API did not answer (${err.message}); still waiting for the rollout.`,
      );
      return { again: 2_000 };
    }
    if (d.paused) {
      throw new IntegrationError(
        'kubernetes',
        'The Deployment was paused during the rollout, so it will not progress.',
        {
          retryable: false,
          hint: "Resume it with 'kubectl rollout resume', then Retry.",
        },
      );
    }
    const status = rolloutStatus(d);
    if (status.failed) {
      throw new IntegrationError(
        'kubernetes',
        `The rollout stalled: ${status.failed}. The Deployment is left as it is (template of revision ${ctx.plan.to.revision}).`,
        {
          retryable: false,
          hint: 'Look at the new pods (`kubectl describe`), fix the cause, then Retry to wait again.',
        },
      );
    }
    if (status.done)
      return {
        detail: `${status.message} (${status.updated}/${status.desired} pods updated, ${status.available} available).`,
      };
    const elapsed = Date.now() - startedAt;
    if (elapsed > ctx.plan.timeoutMs) {
      throw new IntegrationError(
        'kubernetes',
        `Timed out after ${formatDuration(ctx.plan.timeoutMs)} waiting for the rollout: ${status.message}`,
        {
          retryable: false,
          hint: 'The patch is applied; check the pods, then Retry to wait again.',
        },
      );
    }
    const line = `${status.updated}/${status.desired} pods updated, ${status.available} available — ${status.message}`;
    const changed = ctx.state.lastProgress !== line;
    const polls = ((ctx.state.waitPolls as number | undefined) ?? 0) + 1;
    await ctx.save({ waitPolls: polls, lastProgress: line });
    if (changed) await ctx.progress(line);
    // Poll quickly at first (a small Deployment converges in well under a second), then every second.
    return { again: Math.min(1_000, 100 * 2 ** (polls - 1)) };
  },
};

const verify: Step<RollbackPlan, JobDeps> = {
  name: 'verify',
  label: 'Verify health over the stability window',
  dryRun: 'skip',
  async run(ctx) {
    const health = ctx.plan.health;
    if (!health || (health.probes.length === 0 && !health.prometheus?.checks.length)) {
      await ctx.save({ outcome: 'rolled out (no health checks configured)' });
      return { detail: 'No health checks are configured for this environment.' };
    }
    const v: Verification = (ctx.state.verification as Verification | undefined) ?? {
      rounds: 0,
      startedAt: Date.now(),
      failures: [],
      last: [],
    };
    const readings = await ctx.deps.health.check(health);
    v.rounds += 1;
    v.last = readings;
    for (const r of readings) if (!r.ok) v.failures.push(`round ${v.rounds}: ${r.detail}`);
    await ctx.save({ verification: v });
    const elapsed = Date.now() - v.startedAt;
    const line = readings.map((r) => `${r.ok ? '✓' : '✗'} ${r.detail}`).join('\n');
    if (elapsed < health.stabilityWindow) {
      await ctx.progress(
        `Round ${v.rounds}, ${formatDuration(elapsed)} of ${formatDuration(health.stabilityWindow)}:\n${line}`,
      );
      return { again: Math.min(health.interval, health.stabilityWindow - elapsed) };
    }
    const outcome = v.failures.length === 0 ? 'healthy' : 'degraded';
    await ctx.save({ outcome, healthSummary: line });
    return {
      detail:
        outcome === 'healthy'
          ? `Healthy over ${formatDuration(health.stabilityWindow)} (${v.rounds} rounds):\n${line}`
          : `Degraded: ${v.failures.length} failed check(s) over ${v.rounds} rounds. Last round:\n${line}\nFirst failure: ${v.failures[0]}`,
    };
  },
};

const report: Step<RollbackPlan, JobDeps> = {
  name: 'report',
  label: 'Report the outcome',
  async run(ctx) {
    const { plan } = ctx;
    if (ctx.dryRun) {
      await ctx.save({ outcome: 'dry run: nothing was patched' });
      return {
        detail: `DRY_RUN: would have restored revision ${plan.to.revision} (${plan.to.images.map((i) => i.image).join(', ')}). Nothing was changed.`,
      };
    }
    const outcome = (ctx.state.outcome as string | undefined) ?? 'rolled out';
    const summary = (ctx.state.healthSummary as string | undefined) ?? '';
    const text = `${outcome === 'healthy' ? ':white_check_mark:' : ':warning:'} ${plan.service} in ${plan.environment} is back on revision ${plan.to.revision} (${plan.to.images.map((i) => `\`${i.image}\``).join(', ')}) — *${outcome}*.${summary ? `\n${summary}` : ''}`;
    await ctx.note('outcome', text);
    return { detail: `Outcome: ${outcome}.` };
  },
};

export const rollbackJob: JobDefinition<RollbackPlan, JobDeps> = {
  kind: 'rollback',
  steps: [preflight, lock, apply, waitRollout, verify, report],
  describe(plan) {
    const lines = [
      `*Deployment* \`${plan.target.namespace}/${plan.target.deployment}\` (context \`${plan.target.context}\`)`,
      `*Revision* ${plan.from.revision} → ${plan.to.revision}${plan.rollForwardOf ? ` (rolling forward, undoing ${plan.rollForwardOf})` : ''}`,
    ];
    const names = new Set([...plan.from.images.map((i) => i.name), ...plan.to.images.map((i) => i.name)]);
    for (const name of names) {
      const before = plan.from.images.find((i) => i.name === name)?.image ?? '(none)';
      const after = plan.to.images.find((i) => i.name === name)?.image ?? '(removed)';
      lines.push(
        `• container \`${name}\`: \`${before}\` → \`${after}\`${before === after ? ' (unchanged)' : ''}`,
      );
    }
    lines.push(...migrationLines(plan.migrations ?? []));
    lines.push(
      `Then wait for the rollout (timeout ${formatDuration(plan.timeoutMs)})${plan.health ? ` and verify health for ${formatDuration(plan.health.stabilityWindow)}` : ''}.`,
    );
    return lines;
  },
  pendingButtons(request): CardButton[] {
    const flag = request.plan.killSwitch;
    if (!flag) return [];
    return [
      {
        action: 'flagInstead',
        text: `Turn off ${flag} instead`,
        confirm: {
          title: `Turn off ${flag}?`,
          text: `Files a /flag request to turn ${flag} off in ${request.plan.environment}. This rollback stays pending: reject it if the flag is enough.`,
          confirm: 'File it',
        },
      },
    ];
  },
  buttons(request): CardButton[] {
    if (
      request.state === 'succeeded' &&
      !request.dryRun &&
      request.outcome !== 'no-op: already at the target revision'
    ) {
      return [
        {
          action: 'undo',
          text: 'Roll forward',
          confirm: {
            title: 'Roll forward?',
            text: `Files a new request to go back to revision ${request.plan.from.revision}. It needs its own approval.`,
            confirm: 'File it',
          },
        },
      ];
    }
    return [];
  },
};
