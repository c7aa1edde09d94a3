import { createHash } from 'node:crypto';
import { canonicalJson } from '../../audit/record.js';
import type { ContainerImage, DeploymentSnapshot, PodTemplate, RevisionEntry } from './types.js';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const POD_TEMPLATE_HASH = 'pod-template-hash';

/** Annotations kubectl keeps from the Deployment rather than copying from the ReplicaSet. */
const ANNOTATIONS_TO_SKIP = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  'deployment.kubernetes.io/revision',
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);

/**
 * The template without the pod-template-hash label (kubectl compares and restores it so): a new
 * object where the labels differ, sharing the rest with `template`, which is left as it was.
 */
export function withoutHash(template: PodTemplate): PodTemplate {
  const labels = template.metadata?.labels;
  if (!labels) return template;
  const { [POD_TEMPLATE_HASH]: _hash, ...rest } = labels;
  // Unchanged unless there is a hash to drop or an empty label map (dropped too, as kubectl does).
  if (!(POD_TEMPLATE_HASH in labels) && Object.keys(rest).length > 0) return template;
  // Keys keep their order: the patch body is the same, byte for byte, as kubectl's.
  const metadata: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template.metadata ?? {})) {
    if (key !== 'labels') metadata[key] = value;
    else if (Object.keys(rest).length > 0) metadata[key] = rest;
  }
  return { ...template, metadata };
}

/** Semantic equality of two templates, ignoring pod-template-hash (kubectl's DeepEqual). */
export function sameTemplate(a: PodTemplate, b: PodTemplate): boolean {
  return canonicalJson(withoutHash(a)) === canonicalJson(withoutHash(b));
}

/** A short stable fingerprint of a template, for plans and stale checks. */
export function templateFingerprint(template: PodTemplate): string {
  return createHash('sha256')
    .update(canonicalJson(withoutHash(template)))
    .digest('hex')
    .slice(0, 16);
}

export function imagesOf(template: PodTemplate): ContainerImage[] {
  return (template.spec?.containers ?? []).map((c) => ({ name: c.name, image: c.image ?? '' }));
}

/** The revision annotation as kubectl reads it: missing → 0, unparsable → skipped (undefined). */
export function parseRevision(annotations: Record<string, string> | undefined): number | undefined {
  const raw = annotations?.[REVISION_ANNOTATION];
  if (raw === undefined) return 0;
  if (!/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

export type UndoPlan =
  | { kind: 'patch'; target: RevisionEntry; template: PodTemplate; annotations: Record<string, string> }
  | { kind: 'noop'; target: RevisionEntry; message: string }
  | { kind: 'error'; message: string };

/**
 * kubectl rollout undo's algorithm (semantics.md a.1): pick the revision (the second
 * highest when none is given), refuse a paused Deployment, no-op when the template
 * already matches, else the template without pod-template-hash and the merged annotations.
 */
export function planUndo(
  deployment: DeploymentSnapshot,
  revisions: RevisionEntry[],
  toRevision = 0,
): UndoPlan {
  if (toRevision < 0)
    return { kind: 'error', message: `unable to find specified revision ${toRevision} in history` };
  let target: RevisionEntry | undefined;
  if (toRevision === 0) {
    const sorted = [...revisions].sort((a, b) => b.revision - a.revision);
    target = sorted[1];
    if (!target)
      return { kind: 'error', message: `no rollout history found for deployment "${deployment.name}"` };
  } else {
    target = revisions.find((r) => r.revision === toRevision);
    if (!target)
      return { kind: 'error', message: `unable to find specified revision ${toRevision} in history` };
  }
  if (deployment.paused) {
    return {
      kind: 'error',
      message:
        "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again",
    };
  }
  if (sameTemplate(target.template, deployment.template)) {
    return {
      kind: 'noop',
      target,
      message: `skipped rollback (current template already matches revision ${toRevision})`,
    };
  }
  const annotations: Record<string, string> = {};
  for (const key of ANNOTATIONS_TO_SKIP) {
    const v = deployment.annotations[key];
    if (v !== undefined) annotations[key] = v;
  }
  for (const [k, v] of Object.entries(target.annotations)) {
    if (!ANNOTATIONS_TO_SKIP.has(k)) annotations[k] = v;
  }
  return { kind: 'patch', target, template: withoutHash(target.template), annotations };
}
