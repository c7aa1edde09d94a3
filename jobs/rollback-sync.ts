import { auditContext } from '../src/queue/step-runner.js';
import type { Step } from '../src/queue/job-definition.js';
import { ownerName, resumeCommand, type WorkloadOwner } from '../src/integrations/kubernetes/owners.js';
import type { ContainerImage } from '../src/integrations/kubernetes/types.js';
import type { JobDeps } from './deps.js';
import type { RollbackPlan } from './rollback.js';

/**
 * `gitops: suspend`: pauses the automatic sync of each GitOps owner the plan names, before the
 * patch, so the controller does not put its template straight back. Approved with the plan,
 * audited, idempotent (an owner already paused is left as it is).
 */
export const pauseSync: Step<RollbackPlan, JobDeps> = {
  name: 'pause-sync',
  label: 'Pause the GitOps sync',
  dryRun: 'skip',
  async run(ctx) {
    const owners = ctx.plan.pauseSync ?? [];
    if (owners.length === 0) return { detail: 'No automatic sync to pause.' };
    const done = (ctx.state.pausedSync as string[] | undefined) ?? [];
    const lines: string[] = [];
    for (const owner of owners) {
      const key = `${owner.kind}/${owner.namespace}/${owner.name}`;
      if (done.includes(key)) {
        lines.push(`${ownerName(owner)}: paused (earlier in this job).`);
        continue;
      }
      const { already } = await ctx.deps.owners.pause(ctx.plan.target.context, owner);
      await ctx.deps.audit.append({
        type: 'gitops.sync-paused',
        ...auditContext(ctx.request),
        outcome: already ? 'already paused' : 'paused',
        details: { owner: key, resume: resumeCommand(owner) },
      });
      done.push(key);
      await ctx.save({ pausedSync: done });
      lines.push(
        already
          ? `${ownerName(owner)}: its automatic sync was already off; left as it is.`
          : `${ownerName(owner)}: automatic sync paused.`,
      );
    }
    return { detail: lines.join('\n') };
  },
};

/** What to do once the rollback is in place and an owner's sync is paused: revert in git, then resume. */
export function afterPauseText(plan: RollbackPlan): string | undefined {
  const owners = plan.pauseSync ?? [];
  if (owners.length === 0) return undefined;
  const revert = imageChanges(plan.from.images, plan.to.images);
  const lines = [
    `:pause_button: *GitOps sync is paused* so the rollback stays in place. Before resuming it:`,
    ...owners.map(
      (o: WorkloadOwner) =>
        `• ${ownerName(o)}${o.source ? ` (${o.source})` : ''}: in git, ${revert} — then resume with \`${resumeCommand(o)}\`.`,
    ),
    'Resuming before git is reverted puts the bad template straight back.',
  ];
  return lines.join('\n');
}

function imageChanges(from: ContainerImage[], to: ContainerImage[]): string {
  const changes = to
    .map((t) => ({ t, f: from.find((f) => f.name === t.name) }))
    .filter(({ t, f }) => f?.image !== t.image)
    .map(({ t, f }) => `set container \`${t.name}\` to \`${t.image}\`${f ? ` (now \`${f.image}\`)` : ''}`);
  return changes.length ? changes.join(', ') : 'restore the pod template of the rolled-back revision';
}
