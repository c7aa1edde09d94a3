import { imageCarriesTag } from '../src/integrations/github/selection.js';
import type { DeploymentHistory } from '../src/integrations/kubernetes/types.js';

export type RunningTag =
  | { runs: false; images: string[] }
  | {
      runs: true;
      from: { revision: number; images: string[] };
      /** The newest earlier revision none of whose images carries the tag. */
      to?: { revision: number; images: string[] };
      problem?: string;
    };

/**
 * Whether a Deployment runs a release (an image of its live pod template carries the tag, see
 * `imageCarriesTag`), and where a rollback would take it: the newest earlier revision that does
 * not run the release, which may be older than the previous one when several revisions ran it.
 */
export function runningTag(history: DeploymentHistory, tag: string): RunningTag {
  const d = history.deployment;
  const live = (d.template.spec?.containers ?? []).map((c) => c.image ?? '');
  if (!live.some((image) => imageCarriesTag(image, tag))) return { runs: false, images: live };
  const current = history.revisions.find((r) => r.current);
  const fromRevision = current?.revision ?? d.revision;
  const from = { revision: fromRevision, images: live };
  const target = history.revisions.find(
    (r) => !r.current && r.revision < fromRevision && !r.images.some((i) => imageCarriesTag(i.image, tag)),
  );
  if (!target) {
    return {
      runs: true,
      from,
      problem: `no earlier revision runs anything but ${tag}, so there is nothing to roll back to`,
    };
  }
  if (d.paused) {
    return {
      runs: true,
      from,
      to: { revision: target.revision, images: target.images.map((i) => i.image) },
      problem: 'the Deployment is paused; resume it (`kubectl rollout resume`) before a rollback',
    };
  }
  return { runs: true, from, to: { revision: target.revision, images: target.images.map((i) => i.image) } };
}
