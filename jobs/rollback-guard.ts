import { OverriddenError, StalePlanError } from '../src/errors.js';
import type {
  DeploymentHistory,
  DeploymentSnapshot,
  FieldManager,
} from '../src/integrations/kubernetes/types.js';
import { FIELD_MANAGER } from '../src/integrations/kubernetes/types.js';
import { imagesOf, templateFingerprint } from '../src/integrations/kubernetes/undo.js';
import { ownerName } from '../src/integrations/kubernetes/owners.js';
import type { RollbackPlan } from './rollback.js';

/** What the job saved about its own patch (checkpoints), to tell its writes from anyone else's. */
export interface OwnWrite {
  applying?: boolean;
  /** When the patch was sent (ms): a `backout` template write at or after it is ours. */
  applyingAt?: number;
  applied?: boolean;
  appliedGeneration?: number;
}

/** The managedFields entry that last wrote the pod template (newest time; another manager wins a tie). */
export function lastTemplateWriter(managers: FieldManager[]): FieldManager | undefined {
  return managers
    .filter((m) => m.ownsTemplate && m.subresource === undefined)
    .sort((a, b) => {
      const byTime = (b.time ?? '').localeCompare(a.time ?? '');
      if (byTime !== 0) return byTime;
      return Number(a.manager === FIELD_MANAGER) - Number(b.manager === FIELD_MANAGER);
    })[0];
}

/** Whether the Deployment's managedFields show a template write by backout at or after `sinceMs`. */
export function wroteTemplateSince(d: DeploymentSnapshot, sinceMs: number): boolean {
  // managedFields keep whole seconds: compare at that precision.
  const since = Math.floor(sinceMs / 1000) * 1000;
  return d.managers.some(
    (m) =>
      m.manager === FIELD_MANAGER && m.ownsTemplate && m.time !== undefined && Date.parse(m.time) >= since,
  );
}

function images(d: DeploymentSnapshot): string {
  return imagesOf(d.template)
    .map((i) => `\`${i.image}\``)
    .join(', ');
}

/**
 * Stops the job when the live template is no longer the target's after backout's patch: someone
 * else's write replaced it, and whatever happens next is their rollout, not this rollback.
 */
export function checkNotOverridden(plan: RollbackPlan, own: OwnWrite, d: DeploymentSnapshot): void {
  if (templateFingerprint(d.template) === plan.to.template) return;
  const by = lastTemplateWriter(d.managers);
  const who = by
    ? `\`${by.manager}\`${by.time ? ` at ${by.time}` : ''}`
    : 'another writer (no managedFields entry names it)';
  const gitops = (plan.owners ?? []).filter((o) => o.sync !== 'manual');
  throw new OverriddenError(
    `${who} replaced the rolled-back pod template of Deployment ${plan.target.namespace}/${plan.target.deployment} ` +
      `(generation ${own.appliedGeneration ?? '?'} → ${d.generation}); it now runs ${images(d)}, not revision ${plan.to.revision}. ` +
      'backout stopped watching: this rollback was not verified and its result is not in place.',
    {
      hint: gitops.length
        ? `${gitops.map(ownerName).join(', ')} manages this Deployment: revert the change in git, or set \`gitops: suspend\` for this environment and run /rollback again.`
        : 'Find out who deployed (`kubectl get deployment -o yaml --show-managed-fields`), agree on the version, then run /rollback again if it is still needed.',
    },
  );
}

/** Refuses when live state moved since the plan (generation or template), naming what it is now. */
export function checkAsPlanned(plan: RollbackPlan, h: DeploymentHistory): void {
  const d = h.deployment;
  if (d.generation !== plan.from.generation || templateFingerprint(d.template) !== plan.from.template) {
    const by = lastTemplateWriter(d.managers);
    throw new StalePlanError(
      `The plan is stale: Deployment ${plan.target.namespace}/${plan.target.deployment} changed after the plan was made ` +
        `(generation ${plan.from.generation} → ${d.generation}${by ? `, pod template last written by ${by.manager}${by.time ? ` at ${by.time}` : ''}` : ''}, now at revision ${d.revision} running ${d.template.spec?.containers?.map((c) => c.image).join(', ')}). Nothing was patched.`,
      { hint: 'Run /rollback again for a fresh plan against what is running now.' },
    );
  }
  if (d.paused) {
    throw new StalePlanError(
      "The Deployment was paused after the plan was made: you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again. Nothing was patched.",
    );
  }
  if (!h.revisions.some((r) => templateFingerprint(r.template) === plan.to.template)) {
    throw new StalePlanError(
      `The plan is stale: revision ${plan.to.revision}'s ReplicaSet (${plan.to.replicaSet}) is gone. Nothing was patched.`,
      { hint: 'Run /rollback again for a fresh plan.' },
    );
  }
}
