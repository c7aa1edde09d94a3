/** Where a service environment's workload lives. */
export interface KubeTarget {
  context: string;
  namespace: string;
  deployment: string;
}

export interface ContainerImage {
  name: string;
  image: string;
}

/** A pod template in wire form (as JSON on the API), kept whole for patches and comparisons. */
export type PodTemplate = {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: { containers?: { name: string; image?: string; [k: string]: unknown }[]; [k: string]: unknown };
  [k: string]: unknown;
};

/** One `metadata.managedFields` entry: who last wrote which part of the object, and when. */
export interface FieldManager {
  manager: string;
  operation: string;
  /** ISO time of the manager's last write (second precision, as the API server keeps it). */
  time?: string;
  subresource?: string;
  /** Whether it owns fields under `spec.template` (it deployed a pod template). */
  ownsTemplate: boolean;
}

export interface DeploymentSnapshot {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  generation: number;
  labels: Record<string, string>;
  managers: FieldManager[];
  observedGeneration: number;
  paused: boolean;
  replicas: number;
  /** `deployment.kubernetes.io/revision` of the Deployment. */
  revision: number;
  annotations: Record<string, string>;
  template: PodTemplate;
  selector: string;
  progressDeadlineSeconds: number;
  status: {
    replicas: number;
    updatedReplicas: number;
    readyReplicas: number;
    availableReplicas: number;
    conditions: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface RevisionEntry {
  revision: number;
  replicaSet: string;
  images: ContainerImage[];
  createdAt?: string;
  /** Whether this ReplicaSet's template is the Deployment's current one. */
  current: boolean;
  template: PodTemplate;
  annotations: Record<string, string>;
}

export interface DeploymentHistory {
  deployment: DeploymentSnapshot;
  /** Newest revision first. */
  revisions: RevisionEntry[];
}

export interface RolloutProgress {
  done: boolean;
  /** kubectl rollout status's own words: "Waiting for deployment … 3 out of 5 new replicas have been updated...". */
  message: string;
  /** Terminal failure (ProgressDeadlineExceeded, deleted). */
  failed?: string;
  updated: number;
  available: number;
  desired: number;
}

/** The Kubernetes operations backout's jobs and commands use; built once, over the API client. */
export interface Deployments {
  get(target: KubeTarget): Promise<DeploymentSnapshot>;
  history(target: KubeTarget): Promise<DeploymentHistory>;
  /**
   * kubectl rollout undo's JSON patch (replace /spec/template and /metadata/annotations), applied
   * only if the Deployment is still at `expect.generation` (a JSON-patch `test`) and
   * `expect.resourceVersion` (409 otherwise): someone else's change is never overwritten.
   */
  restoreTemplate(
    target: KubeTarget,
    template: PodTemplate,
    annotations: Record<string, string>,
    expect: { generation: number; resourceVersion: string },
  ): Promise<GuardedWrite>;
  /** Sets one container's image (canary promotion onto the stable Deployment). */
  setImage(target: KubeTarget, container: string, image: string): Promise<DeploymentSnapshot>;
}

/**
 * A write with preconditions: applied, or refused because the object moved — `changed` when its
 * generation is no longer the expected one (someone changed the spec), `conflict` when only its
 * resourceVersion did (a status update, say: read again and retry).
 */
export type GuardedWrite =
  { ok: true; deployment: DeploymentSnapshot } | { ok: false; reason: 'changed' | 'conflict' };

/** The field manager backout's own writes are recorded under (managedFields). */
export const FIELD_MANAGER = 'backout';

/** A client-node model (used for its types only) as it travels on the wire: plain JSON, timestamps as strings. */
export type Wire<T> = T extends Date
  ? string
  : T extends (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;
