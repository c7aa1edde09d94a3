// A minimal Argo Rollouts controller for canary promote/abort tests (after argoproj/argo-rollouts
// rollout/canary.go, rollout/pause.go, utils/rollout/rolloututil.go). It reconciles synchronously
// after every write to a Rollout that did not come from itself.
//
// Modelled:
// - revision: `rollout.argoproj.io/revision` bumps and `status.currentPodHash` changes when the hash of
//   `spec.template` changes; the step index resets to 0 and abort/pause state is cleared. The first
//   template seen, and a template whose hash equals `status.stableRS` (rollback to stable), skip all
//   steps.
// - steps (`spec.strategy.canary.steps`): `setWeight` and every other step kind complete at once;
//   `pause` adds pause condition `CanaryPauseStep` with `controllerPause: true` and waits. A pause is
//   complete when its condition was removed while `controllerPause` is set (what `promote` does), or,
//   for `pause: {duration}`, when the duration has elapsed (a timer re-reconciles).
// - `spec.paused`: no progress; phase `Paused`, message `manually paused`.
// - `status.promoteFull`: pause state and abort cleared, jump past the last step, then the flag resets.
// - `status.abort`: phase `Degraded`, message `RolloutAborted: Rollout aborted update to revision N`,
//   `abortedAt` set, pause state cleared, canary weight 0, `Progressing=False/RolloutAborted`. As in
//   canary.go, `currentStepIndex` goes back to 0 (or stays at the end when stable is current), so a
//   retry (`abort: false`) replays the steps.
// - fully promoted (index == steps): `stableRS = currentPodHash`, phase `Healthy`, canary weight 0.
// - weights: `status.canary.weights` = last `setWeight` at or before the current step (canary) and
//   100 minus that (stable), for every canary Rollout (Argo writes them only with traffic routing).
// Not modelled: ReplicaSets of Rollouts, analysis and experiments (complete at once), blue-green
// (promotes at once), `rollbackWindow`, `progressDeadlineAbort`, scale-down delays.
import type { IRollout } from '@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/Rollout';

import { templateHash } from './hash.js';
import { clone } from './json.js';
import type { KObject } from './resources.js';
import { timestamp, type ObjectStore } from './store.js';

export const ROLLOUT_REVISION = 'rollout.argoproj.io/revision';
export const ROLLOUT_HASH_LABEL = 'rollouts-pod-template-hash';

type Ro = IRollout & { metadata: KObject['metadata'] };
type Status = NonNullable<IRollout['status']>;
type Condition = NonNullable<Status['conditions']>[number];
type PauseCondition = NonNullable<Status['pauseConditions']>[number];

/** Pause durations are seconds (number or numeric string) or Go-style `30s`, `5m`, `1h`. */
function durationSeconds(value: number | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  const m = /^(\d+)(s|m|h)?$/.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'] ?? 1);
}

function setCondition(
  list: Condition[],
  next: Pick<Condition, 'type' | 'status' | 'reason' | 'message'>,
  now: string,
): Condition[] {
  const existing = list.find((c) => c.type === next.type);
  if (
    existing &&
    existing.status === next.status &&
    existing.reason === next.reason &&
    existing.message === next.message
  ) {
    return list;
  }
  const transition = existing && existing.status === next.status ? existing.lastTransitionTime : now;
  const condition: Condition = { ...next, lastUpdateTime: now, lastTransitionTime: transition };
  return existing ? list.map((c) => (c === existing ? condition : c)) : [...list, condition];
}

export class RolloutController {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly held = new Set<string>();
  private stopped = false;

  constructor(private readonly store: ObjectStore) {}

  /** A held Rollout is not reconciled (a controller that is behind or down) until released. */
  hold(namespace: string, name: string, held: boolean): void {
    const k = `${namespace}/${name}`;
    if (held) this.held.add(k);
    else if (this.held.delete(k)) this.reconcile(namespace, name);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private wake(namespace: string, name: string, afterMs: number): void {
    const k = `${namespace}/${name}`;
    if (this.stopped) return;
    clearTimeout(this.timers.get(k));
    const timer = setTimeout(
      () => {
        this.timers.delete(k);
        this.reconcile(namespace, name);
      },
      Math.max(0, afterMs),
    );
    timer.unref();
    this.timers.set(k, timer);
  }

  reconcile(namespace: string, name: string): void {
    const stored = this.store.get('Rollout', namespace, name);
    if (!stored || this.stopped || this.held.has(`${namespace}/${name}`)) return;
    const r = stored as unknown as Ro;
    const now = timestamp();
    const canary = r.spec.strategy?.canary;
    const steps = canary?.steps ?? [];
    const n = steps.length;
    const hash = templateHash(r.spec.template, ROLLOUT_HASH_LABEL);
    const s: Status = clone(r.status ?? {});
    const annotations = (r.metadata.annotations ??= {});
    let revision = Number.parseInt(annotations[ROLLOUT_REVISION] ?? '0', 10) || 0;

    if (s.currentPodHash !== hash) {
      const first = s.currentPodHash === undefined && s.stableRS === undefined;
      revision += 1;
      annotations[ROLLOUT_REVISION] = String(revision);
      s.currentPodHash = hash;
      if (first) s.stableRS = hash;
      for (const field of [
        'abort',
        'abortedAt',
        'pauseConditions',
        'controllerPause',
        'promoteFull',
      ] as const)
        delete s[field];
      s.currentStepIndex = s.stableRS === hash ? n : 0;
    }

    let index = Math.min(Math.max(s.currentStepIndex ?? 0, 0), n);
    let pauses: PauseCondition[] = s.pauseConditions ?? [];
    let controllerPause = s.controllerPause ?? false;
    let waiting = false;
    let conditions = s.conditions ?? [];
    const rsName = `${r.metadata.name}-${hash}`;

    if (s.promoteFull) {
      index = n;
      pauses = [];
      controllerPause = false;
      delete s.abort;
    }
    if (s.abort) {
      s.abortedAt ??= now;
      pauses = [];
      controllerPause = false;
      if (n > 0) index = s.stableRS === s.currentPodHash ? n : 0;
    } else {
      delete s.abortedAt;
      while (!r.spec.paused && index < n) {
        const pause = steps[index]!.pause;
        if (!pause) {
          index++;
          continue;
        }
        const condition = pauses.find((c) => c.reason === 'CanaryPauseStep');
        const seconds = durationSeconds(pause.duration);
        const expiresAt =
          condition && seconds !== undefined ? Date.parse(condition.startTime) + seconds * 1000 : undefined;
        if ((!condition && controllerPause) || (expiresAt !== undefined && expiresAt <= Date.now())) {
          pauses = pauses.filter((c) => c !== condition);
          controllerPause = false;
          index++;
          continue;
        }
        if (!condition) {
          pauses = [...pauses, { reason: 'CanaryPauseStep', startTime: now }];
          controllerPause = true;
          if (seconds !== undefined) this.wake(namespace, name, seconds * 1000);
        } else if (expiresAt !== undefined) {
          this.wake(namespace, name, expiresAt - Date.now());
        }
        waiting = true;
        break;
      }
    }

    const promoted = index >= n && !s.abort;
    if (promoted) {
      s.stableRS = s.currentPodHash;
      delete s.promoteFull;
    }
    s.currentStepIndex = n > 0 || s.currentStepIndex !== undefined ? index : undefined;
    if (pauses.length > 0) {
      s.pauseConditions = pauses;
      s.controllerPause = controllerPause;
    } else {
      delete s.pauseConditions;
      delete s.controllerPause;
    }

    const message = `Rollout aborted update to revision ${revision}`;
    if (s.abort) {
      s.phase = 'Degraded';
      s.message = `RolloutAborted: ${message}`;
      conditions = setCondition(
        conditions,
        { type: 'Progressing', status: 'False', reason: 'RolloutAborted', message },
        now,
      );
    } else if (promoted) {
      s.phase = 'Healthy';
      delete s.message;
      conditions = setCondition(
        conditions,
        {
          type: 'Progressing',
          status: 'True',
          reason: 'NewReplicaSetAvailable',
          message: `ReplicaSet "${rsName}" has successfully progressed.`,
        },
        now,
      );
    } else if (r.spec.paused || waiting) {
      s.phase = 'Paused';
      s.message = r.spec.paused ? 'manually paused' : 'CanaryPauseStep';
      conditions = setCondition(
        conditions,
        { type: 'Progressing', status: 'Unknown', reason: 'RolloutPaused', message: 'Rollout is paused' },
        now,
      );
    } else {
      s.phase = 'Progressing';
      s.message = 'more replicas need to be updated';
      conditions = setCondition(
        conditions,
        {
          type: 'Progressing',
          status: 'True',
          reason: 'ReplicaSetUpdated',
          message: `ReplicaSet "${rsName}" is progressing.`,
        },
        now,
      );
    }
    const paused = s.phase === 'Paused';
    if (paused || conditions.some((c) => c.type === 'Paused')) {
      conditions = setCondition(
        conditions,
        paused
          ? { type: 'Paused', status: 'True', reason: 'RolloutPaused', message: 'Rollout is paused' }
          : { type: 'Paused', status: 'False', reason: 'RolloutResumed', message: 'Rollout is resumed' },
        now,
      );
    }
    conditions = setCondition(
      conditions,
      {
        type: 'Available',
        status: 'True',
        reason: 'AvailableReason',
        message: 'Rollout has minimum availability',
      },
      now,
    );
    s.conditions = conditions;

    let weight = 0;
    if (!promoted && !s.abort) {
      for (let i = Math.min(index, n - 1); i >= 0; i--) {
        const w = steps[i]!.setWeight;
        if (w !== undefined) {
          weight = w;
          break;
        }
      }
    }
    const replicas = r.spec.replicas ?? 1;
    if (canary) {
      s.canary = {
        ...s.canary,
        weights: {
          canary: {
            weight,
            podTemplateHash: s.currentPodHash,
            ...(canary.canaryService ? { serviceName: canary.canaryService } : {}),
          },
          stable: {
            weight: 100 - weight,
            podTemplateHash: s.stableRS,
            ...(canary.stableService ? { serviceName: canary.stableService } : {}),
          },
        },
      };
    }
    s.replicas = replicas;
    s.updatedReplicas = promoted ? replicas : Math.ceil((replicas * weight) / 100);
    s.readyReplicas = replicas;
    s.availableReplicas = replicas;
    s.observedGeneration = String(r.metadata.generation ?? 1);
    r.status = s;
    this.store.replace('Rollout', r as unknown as KObject);
  }
}
