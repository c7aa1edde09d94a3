// A minimal Deployment controller (after kubernetes/kubernetes pkg/controller/deployment).
//
// Modelled, per tick (default every 50 ms) while a rollout is in progress:
// - revisions: the owned ReplicaSet whose template equals `spec.template` ignoring `pod-template-hash`
//   becomes the new ReplicaSet with revision max(old)+1; if it already had a revision, the old number
//   is appended to `deployment.kubernetes.io/revision-history` (SetNewReplicaSetAnnotations). Without
//   a match a new ReplicaSet `<deployment>-<hash>` is created. The Deployment's revision annotation
//   follows, and its other annotations are copied onto the new ReplicaSet.
// - scaling: the new ReplicaSet grows by one replica per tick and old ones shrink so that ready
//   replicas stay at `spec.replicas` (surge of one, no unavailability). Pods are ready at once.
// - status: observedGeneration catches up on the first tick; replicas/updated/ready/available/
//   unavailable counts (zero values omitted, as the Go types do); conditions `Available`
//   (MinimumReplicasAvailable / MinimumReplicasUnavailable) and `Progressing` (NewReplicaSetCreated,
//   FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded,
//   DeploymentPaused, DeploymentResumed).
// - `spec.paused`: no new ReplicaSet and no scaling; status is still observed.
// - stall mode: the new ReplicaSet gets `after` ready replicas plus one pod that never becomes ready,
//   then `Progressing=False/ProgressDeadlineExceeded` at once (the deadline itself is not timed).
//   A stall setting is sticky for the Deployment until changed; `after >= spec.replicas` converges.
// Not modelled: Recreate strategy timing, maxSurge/maxUnavailable beyond the availability condition,
// minReadySeconds, revisionHistoryLimit cleanup, hash collisions, Pods.
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IDeploymentCondition } from 'kubernetes-models/apps/v1/DeploymentCondition';
import type { IReplicaSet } from 'kubernetes-models/apps/v1/ReplicaSet';

import { templateHash, withoutLabel } from './hash.js';
import { clone, deepEqual } from './json.js';
import type { KObject } from './resources.js';
import { timestamp, type ObjectStore } from './store.js';

export type RolloutBehaviour = { mode: 'converge'; tickMs?: number } | { mode: 'stall'; after?: number };

export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
export const HASH_LABEL = 'pod-template-hash';
const NOT_COPIED = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION,
  REVISION_HISTORY,
  DESIRED_REPLICAS,
  MAX_REPLICAS,
  'deprecated.deployment.rollback.to',
]);

type Meta = KObject['metadata'];
type Dep = IDeployment & { metadata: Meta; spec: NonNullable<IDeployment['spec']> };
type RS = IReplicaSet & { metadata: Meta; spec: NonNullable<IReplicaSet['spec']> };
type Condition = IDeploymentCondition;

export function revisionOf(rs: { metadata: Meta }): number {
  const n = Number.parseInt(rs.metadata.annotations?.[REVISION] ?? '0', 10);
  return Number.isNaN(n) ? 0 : n;
}

/** Resolves an int-or-percent (`25%`) against a replica count, rounding as the controller does. */
function resolve(value: number | string | undefined, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  const pct = Number.parseInt(value ?? '25%', 10) / 100;
  return roundUp ? Math.ceil(pct * total) : Math.floor(pct * total);
}

function setCondition(list: Condition[], next: ConditionFields, now: string): Condition[] {
  const existing = list.find((c) => c.type === next.type);
  if (
    existing &&
    existing.status === next.status &&
    existing.reason === next.reason &&
    existing.message === next.message
  ) {
    return list;
  }
  const transition = existing && existing.status === next.status ? (existing.lastTransitionTime ?? now) : now;
  const condition: Condition = { ...next, lastUpdateTime: now, lastTransitionTime: transition };
  return existing ? list.map((c) => (c === existing ? condition : c)) : [...list, condition];
}

function omitZero<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== 0)) as Partial<T>;
}

function scale(rs: RS, replicas: number, ready: number): void {
  rs.spec.replicas = replicas;
  rs.status = {
    replicas,
    ...omitZero({ fullyLabeledReplicas: replicas, readyReplicas: ready, availableReplicas: ready }),
    observedGeneration: rs.status?.observedGeneration,
  };
}

type ConditionFields = Omit<Condition, 'lastUpdateTime' | 'lastTransitionTime'>;

function progressingCondition(status: string, reason: string, message: string): ConditionFields {
  return { type: 'Progressing', status, reason, message };
}

/**
 * One scaling move: the new ReplicaSet grows (or shrinks) by one replica toward its target and old
 * ReplicaSets, oldest revision first, shrink so that ready replicas stay at `spec.replicas`. In stall
 * mode the new ReplicaSet keeps at most `after` ready replicas and one more that never becomes ready.
 */
function scaleStep(
  d: Dep,
  newRS: RS,
  replicaSets: RS[],
  behaviour: RolloutBehaviour | undefined,
  instant: boolean,
): { moved: boolean; complete: boolean; stalled: boolean } {
  const desired = d.spec.replicas ?? 1;
  const others = replicaSets.filter((rs) => rs !== newRS);
  const current = newRS.spec.replicas ?? 0;
  const currentReady = newRS.status?.readyReplicas ?? 0;
  const readyCap =
    behaviour?.mode === 'stall' ? Math.max(behaviour.after ?? 0, currentReady) : Number.POSITIVE_INFINITY;
  const stalls = readyCap < desired;
  const target = stalls ? Math.min(desired, readyCap + 1) : desired;
  const next = instant ? target : current + Math.sign(target - current);
  const nextReady = Math.min(next, readyCap);
  scale(newRS, next, nextReady);
  let excess = others.reduce((n, rs) => n + (rs.spec.replicas ?? 0), 0) - Math.max(0, desired - nextReady);
  for (const rs of [...others].sort((a, b) => revisionOf(a) - revisionOf(b))) {
    const replicas = rs.spec.replicas ?? 0;
    const cut = Math.min(Math.max(excess, 0), replicas);
    if (cut > 0 || (rs.status?.replicas ?? 0) !== replicas) scale(rs, replicas - cut, replicas - cut);
    excess -= cut;
  }
  const complete =
    next === desired && nextReady === desired && others.every((rs) => (rs.spec.replicas ?? 0) === 0);
  return { moved: next !== current, complete, stalled: !complete && stalls && next === target };
}

export class DeploymentController {
  private readonly behaviours = new Map<string, RolloutBehaviour>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly defaultTickMs: number,
  ) {}

  setBehaviour(namespace: string, name: string, behaviour: RolloutBehaviour): void {
    this.behaviours.set(`${namespace}/${name}`, behaviour);
    this.observe(namespace, name);
  }

  /** Called after every write to a Deployment that did not come from this controller. */
  observe(namespace: string, name: string): void {
    const k = `${namespace}/${name}`;
    if (this.stopped || this.timers.has(k)) return;
    const behaviour = this.behaviours.get(k);
    const tickMs =
      behaviour?.mode === 'converge' && behaviour.tickMs !== undefined
        ? behaviour.tickMs
        : this.defaultTickMs;
    const timer = setTimeout(() => {
      this.timers.delete(k);
      if (this.step(namespace, name)) this.observe(namespace, name);
    }, tickMs);
    timer.unref();
    this.timers.set(k, timer);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  owned(d: { metadata: Meta }): RS[] {
    return this.store
      .list('ReplicaSet', d.metadata.namespace, { ownerUid: d.metadata.uid })
      .filter((rs) =>
        rs.metadata.ownerReferences?.some((o) => o.controller === true && o.uid === d.metadata.uid),
      )
      .map((rs) => rs as unknown as RS);
  }

  /**
   * One controller sync. `instant` finishes the rollout in one go regardless of the stall setting
   * (used when seeding history); `createdAt` dates a ReplicaSet created by this sync.
   * Returns whether the rollout still has work to do.
   */
  step(namespace: string, name: string, instant = false, createdAt?: Date): boolean {
    const stored = this.store.get('Deployment', namespace, name);
    if (!stored) return false;
    const d = stored as unknown as Dep;
    const now = timestamp();
    const replicaSets = this.owned(d);
    const before = clone(replicaSets);
    const conditions = d.status?.conditions ?? [];
    const current = replicaSets.find((rs) =>
      deepEqual(withoutLabel(rs.spec.template, HASH_LABEL), withoutLabel(d.spec.template, HASH_LABEL)),
    );
    if (d.spec.paused) {
      const paused = progressingCondition('Unknown', 'DeploymentPaused', 'Deployment is paused');
      this.writeDeployment(d, replicaSets, current, setCondition(conditions, paused, now), now);
      return false;
    }
    const wasPaused = conditions.some((c) => c.type === 'Progressing' && c.reason === 'DeploymentPaused');
    let progressing = wasPaused
      ? progressingCondition('Unknown', 'DeploymentResumed', 'Deployment is resumed')
      : undefined;

    const { newRS, event } = this.syncRevision(d, replicaSets, current, createdAt);
    if (!current) before.push(clone(newRS));
    progressing = event ?? progressing;
    const behaviour = instant ? undefined : this.behaviours.get(`${namespace}/${name}`);
    const { moved, complete, stalled } = scaleStep(d, newRS, replicaSets, behaviour, instant);

    // Persist ReplicaSets that changed (spec changes bump their generation, which status observes).
    for (const [i, rs] of replicaSets.entries()) {
      const previous = before[i];
      if (!previous) throw new Error(`ReplicaSet ${rs.metadata.name} has no snapshot from before the sync`);
      if (deepEqual(rs, previous)) continue;
      const specChanged = !deepEqual(rs.spec, previous.spec);
      rs.status = {
        ...rs.status!,
        observedGeneration: (rs.metadata.generation ?? 1) + (specChanged ? 1 : 0),
      };
      this.store.replace('ReplicaSet', rs as unknown as KObject);
    }

    const rsName = newRS.metadata.name;
    if (complete) {
      progressing = progressingCondition(
        'True',
        'NewReplicaSetAvailable',
        `ReplicaSet "${rsName}" has successfully progressed.`,
      );
    } else if (stalled) {
      progressing = progressingCondition(
        'False',
        'ProgressDeadlineExceeded',
        `ReplicaSet "${rsName}" has timed out progressing.`,
      );
    } else if (!progressing || (moved && progressing.reason === 'DeploymentResumed')) {
      progressing = progressingCondition(
        'True',
        'ReplicaSetUpdated',
        `ReplicaSet "${rsName}" is progressing.`,
      );
    }
    d.metadata.annotations = { ...d.metadata.annotations, [REVISION]: String(revisionOf(newRS)) };
    this.writeDeployment(d, replicaSets, newRS, setCondition(conditions, progressing, now), now);
    return !complete && !stalled;
  }

  /**
   * SetNewReplicaSetAnnotations: the ReplicaSet matching the template gets revision max(others)+1,
   * keeping its previous number in revision-history; without a match a new ReplicaSet is created.
   * The Deployment's annotations are copied onto it. Returns the Progressing event, if any.
   */
  private syncRevision(
    d: Dep,
    replicaSets: RS[],
    current: RS | undefined,
    createdAt: Date | undefined,
  ): { newRS: RS; event?: ConditionFields } {
    const others = replicaSets.filter((rs) => rs !== current);
    const newRevision = Math.max(0, ...others.map(revisionOf)) + 1;
    let newRS = current;
    let event: ConditionFields | undefined;
    if (!newRS) {
      newRS = this.createReplicaSet(d, newRevision, createdAt);
      replicaSets.push(newRS);
      event = progressingCondition(
        'True',
        'NewReplicaSetCreated',
        `Created new replica set "${newRS.metadata.name}"`,
      );
    } else if (revisionOf(newRS) < newRevision) {
      const annotations = (newRS.metadata.annotations ??= {});
      const oldRevision = annotations[REVISION];
      annotations[REVISION] = String(newRevision);
      if (oldRevision !== undefined) {
        const history = annotations[REVISION_HISTORY];
        annotations[REVISION_HISTORY] = history ? `${history},${oldRevision}` : oldRevision;
      }
      event = progressingCondition(
        'True',
        'FoundNewReplicaSet',
        `Found new replica set "${newRS.metadata.name}"`,
      );
    }
    const desired = d.spec.replicas ?? 1;
    const maxSurge = resolve(d.spec.strategy?.rollingUpdate?.maxSurge, desired, true);
    const annotations = (newRS.metadata.annotations ??= {});
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {}))
      if (!NOT_COPIED.has(k)) annotations[k] = v;
    annotations[DESIRED_REPLICAS] = String(desired);
    annotations[MAX_REPLICAS] = String(desired + maxSurge);
    return { newRS, event };
  }

  private writeDeployment(
    d: Dep,
    replicaSets: RS[],
    newRS: RS | undefined,
    conditions: Condition[],
    now: string,
  ): void {
    const desired = d.spec.replicas ?? 1;
    const sum = (f: (rs: RS) => number | undefined) => replicaSets.reduce((n, rs) => n + (f(rs) ?? 0), 0);
    const available = sum((rs) => rs.status?.availableReplicas);
    const maxUnavailable = resolve(d.spec.strategy?.rollingUpdate?.maxUnavailable, desired, false);
    const availableCondition =
      available >= desired - maxUnavailable
        ? {
            type: 'Available',
            status: 'True',
            reason: 'MinimumReplicasAvailable',
            message: 'Deployment has minimum availability.',
          }
        : {
            type: 'Available',
            status: 'False',
            reason: 'MinimumReplicasUnavailable',
            message: 'Deployment does not have minimum availability.',
          };
    const withAvailable = setCondition(conditions, availableCondition, now);
    const ordered = [
      ...withAvailable.filter((c) => c.type === 'Available'),
      ...withAvailable.filter((c) => c.type !== 'Available'),
    ];
    d.status = {
      observedGeneration: d.metadata.generation,
      ...omitZero({
        replicas: sum((rs) => rs.status?.replicas),
        updatedReplicas: newRS?.status?.replicas ?? 0,
        readyReplicas: sum((rs) => rs.status?.readyReplicas),
        availableReplicas: available,
        unavailableReplicas: Math.max(0, sum((rs) => rs.spec.replicas) - available),
      }),
      conditions: ordered,
    };
    this.store.replace('Deployment', d as unknown as KObject);
  }

  private createReplicaSet(d: Dep, revision: number, createdAt?: Date): RS {
    const template = clone(d.spec.template);
    const hash = templateHash(template, HASH_LABEL);
    const labels = { ...template.metadata?.labels, [HASH_LABEL]: hash };
    const annotations: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {}))
      if (!NOT_COPIED.has(k)) annotations[k] = v;
    annotations[REVISION] = String(revision);
    const rs: KObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        namespace: d.metadata.namespace,
        labels,
        annotations,
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: d.metadata.name,
            uid: d.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
        ...(createdAt ? { creationTimestamp: timestamp(createdAt) } : {}),
      },
      spec: {
        replicas: 0,
        ...(d.spec.minReadySeconds ? { minReadySeconds: d.spec.minReadySeconds } : {}),
        selector: { ...d.spec.selector, matchLabels: { ...d.spec.selector.matchLabels, [HASH_LABEL]: hash } },
        template: { ...template, metadata: { ...template.metadata, labels } },
      },
      status: { replicas: 0, observedGeneration: 1 },
    };
    return this.store.create('ReplicaSet', rs) as unknown as RS;
  }
}
