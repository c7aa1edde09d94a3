import type { HealthConfig } from '../src/config/schema.js';
import { gateLine, type GateResult } from '../src/gates/types.js';
import { formatDuration } from '../src/config/duration.js';
import { IntegrationError, StalePlanError } from '../src/errors.js';
import { ownerName, type WorkloadOwner } from '../src/integrations/kubernetes/owners.js';
import { rolloutStatus } from '../src/integrations/kubernetes/rollout-status.js';
import type { ContainerImage, DeploymentSnapshot, KubeTarget } from '../src/integrations/kubernetes/types.js';
import { planUndo, templateFingerprint } from '../src/integrations/kubernetes/undo.js';
import type { JobDefinition, Step, StepContext } from '../src/queue/job-definition.js';
import type { CardButton } from '../src/slack/cards.js';
import { isOutcome, OUTCOME_MARK } from '../src/requests/outcome.js';
import type { JobDeps } from './deps.js';
import { verifyRound, type Verification } from './rollback-verify.js';
import { holdTarget } from './hold-target.js';
import { checkAsPlanned, checkNotOverridden, wroteTemplateSince, type OwnWrite } from './rollback-guard.js';
import { afterPauseText, pauseSync } from './rollback-sync.js';
import { migrationLines, type MigrationMark } from '../commands/rollback-migrations.js';
import { plural } from '../src/text/plural.js';

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
  /** A roll forward's gates (CI of the image, probes, windows) as they stood when it was filed. */
  gates?: GateResult[];
  /** Who else manages the Deployment, as read for the plan (Argo CD, Flux, Helm). */
  owners?: WorkloadOwner[];
  /** Who last wrote it, from managedFields, in plain words ("argocd-controller (pod template, 10:02:11Z)"). */
  managedBy?: string[];
  /** Owners whose automatic sync the job pauses before the patch (`gitops: suspend`). */
  pauseSync?: WorkloadOwner[];
  /** The service's kill switch, offered on the plan card as the gentler move. */
  killSwitch?: string;
  /** Irreversible data migrations this rollback crosses (approved as break-glass). */
  migrations?: MigrationMark[];
}

type Ctx = StepContext<RollbackPlan, JobDeps>;

/** Re-reads live state and refuses to go on if it is not what was approved (or already ours). */
async function checkFresh(ctx: Ctx): Promise<'as-planned' | 'already-applied'> {
  const h = await ctx.deps.deployments.history(ctx.plan.target);
  if (templateFingerprint(h.deployment.template) === ctx.plan.to.template && ctx.state.applied)
    return 'already-applied';
  checkAsPlanned(ctx.plan, h);
  return 'as-planned';
}

const own = (ctx: Ctx): OwnWrite => ctx.state;

/** Reads the Deployment and stops with "overridden" if its template is no longer the target's. */
async function readOurs(ctx: Ctx): Promise<DeploymentSnapshot> {
  const d = await ctx.deps.deployments.get(ctx.plan.target);
  checkNotOverridden(ctx.plan, own(ctx), d);
  return d;
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

/** Attempts at the patch when only the resourceVersion moved (status updates) between read and write. */
const APPLY_ATTEMPTS = 3;

const apply: Step<RollbackPlan, JobDeps> = {
  name: 'apply',
  label: 'Restore the target revision’s pod template',
  dryRun: 'skip',
  async run(ctx) {
    const { plan } = ctx;
    for (let attempt = 1; ; attempt++) {
      const h = await ctx.deps.deployments.history(plan.target);
      const { deployment, revisions } = h;
      const s = own(ctx);
      if (s.applying && templateFingerprint(deployment.template) === plan.to.template) {
        // Our own patch landed before a crash: recognise it, do not patch twice.
        await ctx.save({ applied: true, appliedGeneration: s.appliedGeneration ?? deployment.generation });
        return {
          detail: `Already restored by this job (Deployment at generation ${deployment.generation}).`,
        };
      }
      if (s.applying && s.applyingAt !== undefined && wroteTemplateSince(deployment, s.applyingAt)) {
        // Our patch landed before a crash and someone else's write replaced it since.
        checkNotOverridden(plan, s, deployment);
      }
      checkAsPlanned(plan, h);
      const target = revisions.find((r) => templateFingerprint(r.template) === plan.to.template);
      const undo = planUndo(
        deployment,
        target ? [target, ...revisions.filter((r) => r !== target)] : revisions,
        target?.revision ?? plan.to.revision,
      );
      if (undo.kind === 'error') throw new StalePlanError(`${undo.message}. Nothing was patched.`);
      if (undo.kind === 'noop') {
        await ctx.save({ applied: true, noop: true });
        return { finish: 'no-op: already at the target revision', detail: undo.message, verdict: 'no-op' };
      }
      await ctx.save({ applying: true, applyingAt: Date.now() });
      // Only if nothing was written since the read above: a concurrent change is never overwritten.
      const write = await ctx.deps.deployments.restoreTemplate(plan.target, undo.template, undo.annotations, {
        generation: plan.from.generation,
        resourceVersion: deployment.resourceVersion,
      });
      if (write.ok) {
        const after = write.deployment;
        await ctx.save({ applied: true, appliedGeneration: after.generation });
        return {
          detail: `deployment.apps/${plan.target.deployment} rolled back — pod template of revision ${plan.to.revision} (${plan.to.replicaSet}) restored; generation ${after.generation}.${attempt > 1 ? ` (${plural(attempt - 1, 'write conflict')} first, 409: read again each time.)` : ''}`,
        };
      }
      await ctx.save({ applying: false });
      if (write.reason === 'conflict' && attempt < APPLY_ATTEMPTS) {
        await ctx.progress(
          `The Deployment was written between backout's read and its patch (409 Conflict), so nothing was patched; read it again (attempt ${attempt + 1} of ${APPLY_ATTEMPTS}).`,
        );
        continue;
      }
      // Name what changed from a fresh read; the precondition itself already kept the patch out.
      checkAsPlanned(plan, await ctx.deps.deployments.history(plan.target));
      throw new StalePlanError(
        write.reason === 'changed'
          ? `The plan is stale: Deployment ${plan.target.namespace}/${plan.target.deployment} changed while backout was patching it (its generation is no longer ${plan.from.generation}). Nothing was patched.`
          : `Deployment ${plan.target.namespace}/${plan.target.deployment} kept changing while backout was patching it (${APPLY_ATTEMPTS} conflicts in a row). Nothing was patched.`,
        { hint: 'Run /rollback again for a fresh plan, or Retry.' },
      );
    }
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
      d = await readOurs(ctx);
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
    const ours = own(ctx).appliedGeneration;
    if (ours !== undefined && d.generation !== ours && ctx.state.notedLaterWrite !== d.generation) {
      // Written again since our patch, but the template is still ours (a scale, say): keep watching.
      await ctx.save({ notedLaterWrite: d.generation });
      await ctx.note(
        `later-write-${d.generation}`,
        `:information_source: Deployment ${ctx.plan.target.namespace}/${ctx.plan.target.deployment} was changed after the rollback (generation ${ours} → ${d.generation}); its pod template is still revision ${ctx.plan.to.revision}'s.`,
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
      await ctx.save({ outcome: 'rolled out (no health checks configured)', verdict: 'succeeded' });
      return { detail: 'No health checks are configured for this environment.' };
    }
    await readOurs(ctx);
    const round = await verifyRound(
      ctx.deps.health,
      health,
      ctx.state.verification as Verification | undefined,
    );
    // The readings are about whatever ran while they were taken: only count them if it was ours.
    await readOurs(ctx);
    await ctx.save({ verification: round.v });
    if (!round.done) {
      await ctx.progress(round.progress);
      return { again: round.againMs };
    }
    await ctx.save({ outcome: round.verdict, verdict: round.verdict, healthSummary: round.summary });
    return { detail: round.detail, verdict: round.verdict };
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
    // The last word must be true: the rolled-back template must still be the one running.
    if (ctx.state.applied && !ctx.state.noop) await readOurs(ctx);
    const outcome = (ctx.state.outcome as string | undefined) ?? 'rolled out';
    const verdict = isOutcome(ctx.state.verdict) ? ctx.state.verdict : 'succeeded';
    const summary = (ctx.state.healthSummary as string | undefined) ?? '';
    const next =
      verdict === 'failed'
        ? '\nThe rollback is applied but the service is not healthy on this revision either: look at the failing checks; Roll forward or roll back further once you know the cause.'
        : '';
    const resume = afterPauseText(plan);
    if (resume) await ctx.note('gitops', resume);
    const text = `${OUTCOME_MARK[verdict]} ${plan.service} in ${plan.environment} is back on revision ${plan.to.revision} (${plan.to.images.map((i) => `\`${i.image}\``).join(', ')}) — *${outcome}*.${summary ? `\n${summary}` : ''}${next}`;
    await ctx.note('outcome', text);
    if (verdict === 'failed')
      return { finish: 'failed: no health check passed after the rollback', failed: true, verdict };
    return { detail: `Outcome: ${outcome}.`, verdict };
  },
};

export const rollbackJob: JobDefinition<RollbackPlan, JobDeps> = {
  kind: 'rollback',
  steps: [preflight, lock, pauseSync, apply, waitRollout, verify, report],
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
    for (const o of plan.owners ?? []) {
      const pausing = plan.pauseSync?.some((p) => p.kind === o.kind && p.name === o.name);
      lines.push(
        `*Managed by* ${ownerName(o)}${o.source ? ` (${o.source})` : ''}: ${o.note}.${pausing ? ' *Its automatic sync will be paused first* (`gitops: suspend`).' : ''}`,
      );
    }
    if (plan.managedBy?.length) lines.push(`*Last written by* ${plan.managedBy.join(', ')}`);
    lines.push(...migrationLines(plan.migrations ?? []));
    if (plan.gates?.length) lines.push('*Gates*', ...plan.gates.map(gateLine));
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
