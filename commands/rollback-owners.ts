import type { EnvironmentConfig } from '../src/config/model.js';
import { PolicyError } from '../src/errors.js';
import {
  ownerName,
  resumeCommand,
  type SyncOwners,
  type WorkloadOwner,
} from '../src/integrations/kubernetes/owners.js';
import type { DeploymentSnapshot, FieldManager } from '../src/integrations/kubernetes/types.js';

/** The plan's view of who else manages the Deployment, and which syncs the job pauses. */
export interface OwnershipPlan {
  owners: WorkloadOwner[];
  managedBy: string[];
  pauseSync: WorkloadOwner[];
}

/** Plain words for managedFields: "argocd-controller (pod template, 2026-12-05T10:02:11Z)". */
export function describeManagers(managers: FieldManager[]): string[] {
  return managers
    .filter((m) => m.subresource === undefined)
    .sort((a, b) => (b.time ?? '').localeCompare(a.time ?? ''))
    .map(
      (m) =>
        `${m.manager} (${m.ownsTemplate ? 'pod template' : 'other fields'}${m.time ? `, ${m.time}` : ''})`,
    );
}

/**
 * Reads the Deployment's GitOps owners and applies the environment's `gitops` setting: with an
 * owner that syncs by itself (or one that cannot be read), `refuse` stops here with the reason and
 * what to do instead, `suspend` plans a step that pauses its sync, `ignore` goes on and says so.
 */
export async function planOwnership(
  owners: SyncOwners,
  env: EnvironmentConfig,
  service: string,
  d: DeploymentSnapshot,
): Promise<OwnershipPlan> {
  const found = await owners.read(env.kubernetes, d);
  const managedBy = describeManagers(d.managers);
  const syncing = found.filter((o) => o.sync !== 'manual');
  if (syncing.length === 0 || env.gitops === 'ignore') return { owners: found, managedBy, pauseSync: [] };
  const unreadable = syncing.filter((o) => o.sync === 'unknown');
  if (env.gitops === 'suspend' && unreadable.length === 0)
    return { owners: found, managedBy, pauseSync: syncing };
  const lines = syncing.map((o) => `• ${ownerName(o)}${o.source ? ` (${o.source})` : ''}: ${o.note}.`);
  if (env.gitops === 'suspend') {
    throw new PolicyError(
      [
        `Refused: ${service} in ${env.name} is managed by a GitOps owner backout cannot read, so it cannot pause its sync. Nothing was changed.`,
        ...lines,
      ].join('\n'),
      {
        hint: 'Give backout `get` and `patch` on that resource, or pause the sync yourself, then run /rollback again.',
      },
    );
  }
  throw new PolicyError(
    [
      `Refused: ${service} in ${env.name} is synced by GitOps, which would undo a rollback — it puts its own (the current, bad) template back within its sync interval. Nothing was changed.`,
      ...lines,
      'What to do instead: revert the change in git and let it sync; or pause its sync first ' +
        `(${syncing.map((o) => pauseCommand(o)).join('; ')}) and run /rollback again; ` +
        'or set `gitops: suspend` for this environment so backout pauses it as an approved step and tells you how to resume it.',
    ].join('\n'),
  );
}

function pauseCommand(o: WorkloadOwner): string {
  if (o.kind === 'argocd')
    return `\`${resumeCommand(o).replace(/ --sync-policy automated.*$/, ' --sync-policy none')}\``;
  if (o.kind === 'flux-kustomization') return `\`flux suspend kustomization ${o.name} -n ${o.namespace}\``;
  if (o.kind === 'flux-helmrelease') return `\`flux suspend helmrelease ${o.name} -n ${o.namespace}\``;
  return 'ask its owner';
}
