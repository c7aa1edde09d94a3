// Seeding: objects as they would look after a history of writes and controller syncs.
import type { DeploymentController } from './deployments.js';
import { templateHash } from './hash.js';
import { clone, isObject } from './json.js';
import { RESOURCES, apiVersionOf, type KObject, type Kind } from './resources.js';
import { ROLLOUT_HASH_LABEL, ROLLOUT_REVISION } from './rollouts.js';
import type { ObjectStore } from './store.js';

export interface ContainerSeed {
  name: string;
  image: string;
  /** Any other container field, kept as given (a field newer than a client library's models, say). */
  [field: string]: unknown;
}

export interface DeploymentSeed {
  namespace: string;
  name: string;
  /** Desired replicas; Kubernetes' default of 1 when omitted. */
  replicas?: number;
  /** The revision history, oldest first: each entry is the container list of one revision. */
  containers: ContainerSeed[][];
  /** Deployment labels; the selector and pod labels are always `app: <name>`. */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  paused?: boolean;
  progressDeadlineSeconds?: number;
}

function podTemplate(name: string, containers: ContainerSeed[]): Record<string, unknown> {
  return {
    metadata: { labels: { app: name } },
    spec: { containers: containers.map((c) => ({ ...c })) },
  };
}

/**
 * Creates the Deployment at revision 1 and replays every later revision through the controller, fully
 * rolled out each time, so ReplicaSets, revisions (and revision-history for repeated templates) and
 * status are exactly what the controller would have produced. ReplicaSet i is dated (n - i) minutes ago.
 */
export function seedDeployment(
  store: ObjectStore,
  controller: DeploymentController,
  seed: DeploymentSeed,
): KObject {
  const [firstRevision] = seed.containers;
  if (!firstRevision) throw new Error('addDeployment needs at least one revision in `containers`');
  const { namespace, name } = seed;
  const n = seed.containers.length;
  const minutesAgo = (i: number) => new Date(Date.now() - (n - i) * 60_000);
  store.create('Deployment', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace,
      labels: seed.labels ?? { app: name },
      ...(seed.annotations ? { annotations: { ...seed.annotations } } : {}),
      creationTimestamp: minutesAgo(0)
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z'),
    },
    spec: {
      replicas: seed.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: podTemplate(name, firstRevision),
      ...(seed.progressDeadlineSeconds !== undefined
        ? { progressDeadlineSeconds: seed.progressDeadlineSeconds }
        : {}),
    },
  });
  controller.step(namespace, name, true, minutesAgo(0));
  for (let i = 1; i < n; i++) {
    const current = store.get('Deployment', namespace, name)!;
    store.replace('Deployment', {
      ...current,
      spec: { ...(current.spec as object), template: podTemplate(name, seed.containers[i]!) },
    });
    controller.step(namespace, name, true, minutesAgo(i));
  }
  if (seed.paused) {
    const current = store.get('Deployment', namespace, name)!;
    store.replace('Deployment', { ...current, spec: { ...(current.spec as object), paused: true } });
    controller.step(namespace, name, true);
  }
  return store.get('Deployment', namespace, name)!;
}

/** Fills apiVersion, kind and metadata (namespace `default` when missing) of a raw object. */
export function normalizeSeed(kind: Kind, raw: object): KObject {
  const obj = clone(raw) as Record<string, unknown>;
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  return {
    ...obj,
    apiVersion: apiVersionOf(RESOURCES[kind]),
    kind,
    metadata: {
      ...meta,
      name: typeof meta.name === 'string' ? meta.name : '',
      namespace: typeof meta.namespace === 'string' ? meta.namespace : 'default',
    },
  };
}

/**
 * A seeded Rollout's status may name its ReplicaSets with placeholder hashes, e.g.
 * `{currentPodHash: 'canary', stableRS: 'stable', currentStepIndex: 1}` for a canary in progress.
 * The controller keys on the hash of `spec.template`, so the placeholder for the current one is
 * replaced by the real hash (and `stableRS` with it when both placeholders were equal).
 */
export function normalizeRolloutSeed(obj: KObject): KObject {
  if (!isObject(obj.status) || typeof obj.status.currentPodHash !== 'string') return obj;
  const spec = isObject(obj.spec) ? obj.spec : {};
  const hash = templateHash(spec.template, ROLLOUT_HASH_LABEL);
  const status = obj.status;
  const inProgress = status.stableRS !== undefined && status.stableRS !== status.currentPodHash;
  if (!inProgress) status.stableRS = hash;
  status.currentPodHash = hash;
  const annotations = (obj.metadata.annotations ??= {});
  annotations[ROLLOUT_REVISION] ??= inProgress ? '2' : '1';
  return obj;
}
