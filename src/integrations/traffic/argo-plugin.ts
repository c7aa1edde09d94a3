import type { ManagedFieldsEntry } from './last-writer.js';
import type { Stop, TrafficTarget } from './types.js';

/**
 * The Argo Rollouts plugin's logic without I/O: the patches `kubectl argo rollouts` makes,
 * and how it reads a Rollout's steps, weight and status (cmd/promote, cmd/abort, utils/rollout).
 */

interface CanaryStep {
  setWeight?: number;
  pause?: { duration?: number | string };
  [k: string]: unknown;
}

export interface Rollout {
  metadata?: { name?: string; namespace?: string; generation?: number; managedFields?: ManagedFieldsEntry[] };
  spec?: {
    paused?: boolean;
    template?: { spec?: { containers?: { name: string; image?: string }[] } };
    strategy?: { canary?: { steps?: CanaryStep[] }; blueGreen?: unknown };
  };
  status?: {
    phase?: string;
    message?: string;
    currentPodHash?: string;
    stableRS?: string;
    currentStepIndex?: number;
    pauseConditions?: { reason?: string; startTime?: string }[] | null;
    controllerPause?: boolean;
    abort?: boolean;
    abortedAt?: string;
    promoteFull?: boolean;
    observedGeneration?: string | number;
    canary?: {
      weights?: { canary?: { weight?: number }; stable?: { weight?: number } };
      currentStepAnalysisRunStatus?: { status?: string };
    };
  };
}

/** JSON merge patches (spec, status subresource, and the unified fallback for controllers without one). */
export interface PluginPatches {
  spec?: object;
  status?: object;
  unified?: object;
}

export const steps = (ro: Rollout): CanaryStep[] => ro.spec?.strategy?.canary?.steps ?? [];

/**
 * The patches `kubectl argo rollouts promote [--full]` makes (promote/promote.go `getPatches`,
 * cmd/promote/promote.go). Default: unpause the spec when paused; then clear the pause conditions,
 * or (Inconclusive step analysis) also `controllerPause` and step on, or step on mid-step.
 */
export function promotePatches(ro: Rollout, full: boolean): PluginPatches {
  const s = ro.status ?? {};
  const paused = ro.spec?.paused === true;
  const unpause = paused ? { spec: { paused: false } } : undefined;
  if (full) {
    const status = s.currentPodHash !== s.stableRS ? { status: { promoteFull: true } } : undefined;
    return {
      ...(unpause ? { spec: unpause } : {}),
      ...(status ? { status, unified: { ...unpause, ...status } } : {}),
    };
  }
  const out: PluginPatches = {
    ...(unpause ? { spec: unpause } : {}),
    unified: { spec: { paused: false }, status: { pauseConditions: null } },
  };
  const canary = ro.spec?.strategy?.canary;
  const pauses = s.pauseConditions ?? [];
  const next = () => Math.min((s.currentStepIndex ?? 0) + 1, steps(ro).length);
  const inconclusive = canary && s.canary?.currentStepAnalysisRunStatus?.status === 'Inconclusive';
  if (inconclusive && pauses.length > 0 && s.controllerPause === true && canary.steps) {
    out.status = { status: { pauseConditions: null, controllerPause: false, currentStepIndex: next() } };
  } else if (pauses.length > 0) {
    out.status = { status: { pauseConditions: null } };
  } else if (canary?.steps) {
    out.status = { status: { pauseConditions: null, currentStepIndex: next() } };
    out.unified = { spec: { paused: false }, status: { pauseConditions: null, currentStepIndex: next() } };
  }
  return out;
}

/** `kubectl argo rollouts abort`: `{"status":{"abort":true}}` (abort/abort.go). */
export const ABORT_PATCH = { status: { abort: true } } as const;

/** The stops: one per indefinite `pause: {}` step, at the `setWeight` in force there. */
export function rolloutStops(ro: Rollout): Stop[] {
  const out: Stop[] = [];
  let weight = 0;
  steps(ro).forEach((step, i) => {
    if (step.setWeight !== undefined) weight = step.setWeight;
    if (step.pause && step.pause.duration === undefined) out.push({ weight, stepIndex: i });
  });
  return out;
}

/**
 * Stable is the current template — but only once the controller has observed the spec: right
 * after a template change, `currentPodHash` still names the old (stable) hash until it reconciles
 * (the plugin's status checks `observedGeneration` first for the same reason).
 */
export function fullyPromoted(ro: Rollout): boolean {
  const s = ro.status ?? {};
  return observed(ro) && s.currentPodHash !== undefined && s.currentPodHash === s.stableRS;
}

/** The controller has acted on `status.abort`: it stamps `abortedAt` and reports the Rollout Degraded. */
export function abortTaken(ro: Rollout): boolean {
  const s = ro.status ?? {};
  return s.abort === true && observed(ro) && (s.abortedAt !== undefined || s.phase === 'Degraded');
}

/** The canary's share: the controller's `status.canary.weights`, else the `setWeight` in force. */
export function rolloutWeight(ro: Rollout): number {
  const s = ro.status ?? {};
  const reported = s.canary?.weights?.canary?.weight;
  if (reported !== undefined) return reported;
  if (fullyPromoted(ro) || s.abort) return 0;
  const all = steps(ro);
  for (let i = Math.min(s.currentStepIndex ?? 0, all.length - 1); i >= 0; i--) {
    const w = all[i]!.setWeight;
    if (w !== undefined) return w;
  }
  return 0;
}

export function observed(ro: Rollout): boolean {
  const seen = ro.status?.observedGeneration;
  return seen !== undefined && String(seen) === String(ro.metadata?.generation ?? 0);
}

export function pausedAtStep(ro: Rollout): boolean {
  return (ro.status?.pauseConditions ?? []).some((c) => c.reason === 'CanaryPauseStep');
}

/** Status in the words `kubectl argo rollouts status` uses (utils/rollout/rolloututil.go). */
export function rolloutPhase(ro: Rollout): { phase: string; message: string } {
  const s = ro.status ?? {};
  if (!observed(ro))
    return { phase: 'Progressing', message: 'waiting for rollout spec update to be observed' };
  if (s.controllerPause && (s.pauseConditions ?? []).length === 0)
    return { phase: 'Progressing', message: 'waiting for rollout to unpause' };
  if (s.phase) return { phase: s.phase, message: s.message ?? '' };
  if (s.abort) return { phase: 'Degraded', message: 'RolloutAborted' };
  if (ro.spec?.paused) return { phase: 'Paused', message: 'manually paused' };
  if ((s.pauseConditions ?? []).length > 0)
    return { phase: 'Paused', message: s.pauseConditions![0]!.reason ?? '' };
  if (!fullyPromoted(ro)) return { phase: 'Progressing', message: 'waiting for all steps to complete' };
  return { phase: 'Healthy', message: '' };
}

/**
 * The truth about an aborted Rollout and what Argo users run next: it stays Degraded with the
 * canary's template in its spec (argo-rollouts docs, abort), so clearing the abort retries it.
 */
export function argoAfterAbort(t: TrafficTarget, image?: string): string {
  const ro = `kubectl argo rollouts --context ${t.context} -n ${t.namespace}`;
  return [
    `The Rollout stays *Degraded* (RolloutAborted) with ${image ? `\`${image}\`` : 'the canary version'} still in its spec.template; stable keeps serving.`,
    `To revert the spec to stable: \`${ro} undo ${t.object}\` (when git owns the Rollout, revert the image there instead).`,
    `To try the same version again: \`${ro} retry rollout ${t.object}\`. A new \`/canary … start\` replaces the template.`,
  ].join(' ');
}
