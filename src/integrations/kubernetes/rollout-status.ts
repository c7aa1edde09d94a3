import type { DeploymentSnapshot, RolloutProgress } from './types.js';

/** kubectl rollout status for a Deployment, evaluated in kubectl's order (semantics.md a.2). */
export function rolloutStatus(d: DeploymentSnapshot): RolloutProgress {
  const counts = {
    updated: d.status.updatedReplicas,
    available: d.status.availableReplicas,
    desired: d.replicas,
  };
  if (d.generation <= d.observedGeneration) {
    const progressing = d.status.conditions.find((c) => c.type === 'Progressing');
    if (progressing?.reason === 'ProgressDeadlineExceeded') {
      const failed = `deployment "${d.name}" exceeded its progress deadline`;
      return { done: false, failed, message: failed, ...counts };
    }
    if (d.status.updatedReplicas < d.replicas) {
      return {
        done: false,
        message: `Waiting for deployment "${d.name}" rollout to finish: ${d.status.updatedReplicas} out of ${d.replicas} new replicas have been updated...`,
        ...counts,
      };
    }
    if (d.status.replicas > d.status.updatedReplicas) {
      return {
        done: false,
        message: `Waiting for deployment "${d.name}" rollout to finish: ${d.status.replicas - d.status.updatedReplicas} old replicas are pending termination...`,
        ...counts,
      };
    }
    if (d.status.availableReplicas < d.status.updatedReplicas) {
      return {
        done: false,
        message: `Waiting for deployment "${d.name}" rollout to finish: ${d.status.availableReplicas} of ${d.status.updatedReplicas} updated replicas are available...`,
        ...counts,
      };
    }
    return { done: true, message: `deployment "${d.name}" successfully rolled out`, ...counts };
  }
  return { done: false, message: 'Waiting for deployment spec update to be observed...', ...counts };
}
