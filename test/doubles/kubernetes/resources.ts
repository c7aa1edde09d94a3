// The resource types the double serves, their REST names, and schema validation through kubernetes-models.
import { Rollout, type IRollout } from '@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/Rollout';
import {
  HTTPRoute,
  type IHTTPRoute,
} from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { CronJob, type ICronJob } from 'kubernetes-models/batch/v1/CronJob';
import { ReplicaSet, type IReplicaSet } from 'kubernetes-models/apps/v1/ReplicaSet';
import { Ingress, type IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';

import { FeatureFlag, type IFeatureFlag } from './feature-flag.js';
import { deepEqual, isObject } from './json.js';
import { invalid } from './status.js';

export type Kind =
  | 'Deployment'
  | 'ReplicaSet'
  | 'Rollout'
  | 'Ingress'
  | 'HTTPRoute'
  | 'Application'
  | 'Kustomization'
  | 'HelmRelease'
  | 'CronJob'
  | 'FeatureFlag';

/**
 * A custom resource the double stores without a published schema (Argo CD Applications, Flux
 * Kustomizations and HelmReleases): only `spec` must be an object, as their CRDs require.
 */
export interface GenericResource {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface KindMap {
  Deployment: IDeployment;
  ReplicaSet: IReplicaSet;
  Rollout: IRollout;
  Ingress: IIngress;
  HTTPRoute: IHTTPRoute;
  Application: GenericResource;
  Kustomization: GenericResource;
  HelmRelease: GenericResource;
  CronJob: ICronJob;
  FeatureFlag: IFeatureFlag;
}

export type ObjectMeta = NonNullable<IDeployment['metadata']>;
export type OwnerReference = NonNullable<ObjectMeta['ownerReferences']>[number];

/** A stored object: any of the kinds above, with name and namespace always set. */
export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & { name: string; namespace: string };
  spec?: unknown;
  status?: unknown;
  [key: string]: unknown;
}

export interface ResourceType {
  kind: Kind;
  group: string;
  version: string;
  plural: string;
  singular: string;
  /** Custom resources refuse strategic merge patch and updates without `metadata.resourceVersion`. */
  custom: boolean;
  validate(obj: KObject): void;
}

type Validatable = { validate(): void };

function schemaCheck(make: (data: KObject) => Validatable): (obj: KObject) => string | undefined {
  return (obj) => {
    try {
      make(obj).validate();
      return undefined;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  };
}

const SCHEMAS: Record<Kind, (obj: KObject) => string | undefined> = {
  Deployment: schemaCheck((o) => new Deployment(o as unknown as IDeployment)),
  ReplicaSet: schemaCheck((o) => new ReplicaSet(o as unknown as IReplicaSet)),
  Rollout: schemaCheck((o) => new Rollout(o as unknown as IRollout)),
  Ingress: schemaCheck((o) => new Ingress(o as unknown as IIngress)),
  HTTPRoute: schemaCheck((o) => new HTTPRoute(o as unknown as IHTTPRoute)),
  Application: specIsObject,
  Kustomization: specIsObject,
  HelmRelease: specIsObject,
  CronJob: schemaCheck((o) => new CronJob(o as unknown as ICronJob)),
  FeatureFlag: schemaCheck((o) => new FeatureFlag(o)),
};

function specIsObject(obj: KObject): string | undefined {
  return isObject(obj.spec) ? undefined : 'data/spec must be object';
}

/**
 * Semantic checks the API server adds on top of the OpenAPI schema, for the fields tests touch:
 * a workload's selector must match its template labels and replicas cannot be negative.
 */
function workloadChecks(obj: KObject): { field: string; message: string }[] {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const errors: { field: string; message: string }[] = [];
  if (typeof spec.replicas === 'number' && spec.replicas < 0) {
    errors.push({
      field: 'spec.replicas',
      message: `Invalid value: ${spec.replicas}: must be greater than or equal to 0`,
    });
  }
  const selector = isObject(spec.selector) ? spec.selector : undefined;
  const template = isObject(spec.template) ? spec.template : undefined;
  const labels =
    template && isObject(template.metadata) && isObject(template.metadata.labels)
      ? template.metadata.labels
      : {};
  if (obj.kind !== 'Rollout' || !isObject(spec.workloadRef)) {
    if (!selector) errors.push({ field: 'spec.selector', message: 'Required value' });
    const matchLabels = selector && isObject(selector.matchLabels) ? selector.matchLabels : {};
    const mismatch = Object.entries(matchLabels).some(([k, v]) => labels[k] !== v);
    if (mismatch) {
      errors.push({
        field: 'spec.template.metadata.labels',
        message: `Invalid value: ${JSON.stringify(labels)}: \`selector\` does not match template \`labels\``,
      });
    }
  }
  return errors;
}

/** Immutable fields that a write may not change (only `spec.selector` of apps/v1 workloads here). */
export function immutableChecks(prev: KObject, next: KObject): { field: string; message: string }[] {
  if (next.kind !== 'Deployment' && next.kind !== 'ReplicaSet') return [];
  const a = isObject(prev.spec) ? prev.spec.selector : undefined;
  const b = isObject(next.spec) ? next.spec.selector : undefined;
  return deepEqual(a, b)
    ? []
    : [{ field: 'spec.selector', message: `Invalid value: ${JSON.stringify(b)}: field is immutable` }];
}

/** Turns `data/spec/replicas must be integer, data/… …` into field causes (`spec.replicas`, `must be integer`). */
function schemaCauses(message: string): { field: string; message: string }[] {
  return message.split(/, (?=data[/ ])/).map((part) => {
    const m = /^data(\S*) (.*)$/s.exec(part);
    if (!m) return { field: '', message: part };
    const [, pointer = '', text = ''] = m;
    return { field: pointer.replace(/^\//, '').replace(/\//g, '.'), message: text };
  });
}

function makeType(kind: Kind, group: string, version: string, plural: string, custom: boolean): ResourceType {
  const type: ResourceType = {
    kind,
    group,
    version,
    plural,
    singular: kind.toLowerCase(),
    custom,
    validate(obj) {
      const schemaError = SCHEMAS[kind](obj);
      const causes = schemaError ? schemaCauses(schemaError) : [];
      if (kind === 'Deployment' || kind === 'ReplicaSet' || kind === 'Rollout')
        causes.push(...workloadChecks(obj));
      if (causes.length > 0) throw invalid(kind, { plural, group, name: obj.metadata.name }, causes);
    },
  };
  return type;
}

export const RESOURCES: Record<Kind, ResourceType> = {
  Deployment: makeType('Deployment', 'apps', 'v1', 'deployments', false),
  ReplicaSet: makeType('ReplicaSet', 'apps', 'v1', 'replicasets', false),
  Rollout: makeType('Rollout', 'argoproj.io', 'v1alpha1', 'rollouts', true),
  Ingress: makeType('Ingress', 'networking.k8s.io', 'v1', 'ingresses', false),
  HTTPRoute: makeType('HTTPRoute', 'gateway.networking.k8s.io', 'v1', 'httproutes', true),
  Application: makeType('Application', 'argoproj.io', 'v1alpha1', 'applications', true),
  Kustomization: makeType('Kustomization', 'kustomize.toolkit.fluxcd.io', 'v1', 'kustomizations', true),
  HelmRelease: makeType('HelmRelease', 'helm.toolkit.fluxcd.io', 'v2', 'helmreleases', true),
  CronJob: makeType('CronJob', 'batch', 'v1', 'cronjobs', false),
  FeatureFlag: makeType('FeatureFlag', 'core.openfeature.dev', 'v1beta1', 'featureflags', true),
};

export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** Finds the served type for a REST path segment, e.g. (`apps`, `v1`, `deployments`). */
export function resourceByPath(group: string, version: string, plural: string): ResourceType | undefined {
  return Object.values(RESOURCES).find(
    (r) => r.group === group && r.version === version && r.plural === plural,
  );
}

/** Finds the type by kind (`Deployment`), plural (`deployments`) or singular, case-insensitively. */
export function resourceByName(name: string): ResourceType | undefined {
  const n = name.toLowerCase();
  return Object.values(RESOURCES).find(
    (r) => r.kind.toLowerCase() === n || r.plural === n || r.singular === n,
  );
}
