import type { V1Deployment, V1LabelSelector, V1ReplicaSet } from '@kubernetes/client-node';
import { PatchStrategy, type KubeClients } from './clients.js';
import { DEPLOYMENTS, REPLICA_SETS } from './resources.js';
import { isKubeApiError, kubeError } from './errors.js';
import {
  type DeploymentHistory,
  type DeploymentSnapshot,
  type Deployments,
  type FieldManager,
  type GuardedWrite,
  type KubeTarget,
  type PodTemplate,
  type RevisionEntry,
  type Wire,
} from './types.js';
import { imagesOf, parseRevision, sameTemplate } from './undo.js';

type Deployment = Wire<V1Deployment>;
type ReplicaSet = Wire<V1ReplicaSet>;

export function selectorString(selector: Wire<V1LabelSelector> | undefined): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

function managersOf(d: Deployment): FieldManager[] {
  return (d.metadata?.managedFields ?? []).map((m) => {
    const fields = (m.fieldsV1 ?? {}) as Record<string, Record<string, unknown> | undefined>;
    return {
      manager: m.manager ?? '(unnamed)',
      operation: m.operation ?? 'Update',
      ...(m.time ? { time: new Date(m.time).toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
      ...(m.subresource ? { subresource: m.subresource } : {}),
      ownsTemplate: fields['f:spec']?.['f:template'] !== undefined,
    };
  });
}

export function snapshot(d: Deployment): DeploymentSnapshot {
  const annotations = d.metadata?.annotations ?? {};
  return {
    name: d.metadata?.name ?? '',
    namespace: d.metadata?.namespace ?? '',
    uid: d.metadata?.uid ?? '',
    resourceVersion: d.metadata?.resourceVersion ?? '',
    generation: d.metadata?.generation ?? 0,
    labels: d.metadata?.labels ?? {},
    managers: managersOf(d),
    observedGeneration: d.status?.observedGeneration ?? 0,
    paused: d.spec?.paused === true,
    replicas: d.spec?.replicas ?? 1,
    revision: parseRevision(annotations) ?? 0,
    annotations,
    template: d.spec?.template ?? {},
    selector: selectorString(d.spec?.selector),
    progressDeadlineSeconds: d.spec?.progressDeadlineSeconds ?? 600,
    status: {
      replicas: d.status?.replicas ?? 0,
      updatedReplicas: d.status?.updatedReplicas ?? 0,
      readyReplicas: d.status?.readyReplicas ?? 0,
      availableReplicas: d.status?.availableReplicas ?? 0,
      conditions: (d.status?.conditions ?? []).map((c) => ({
        type: c.type,
        status: c.status,
        ...(c.reason ? { reason: c.reason } : {}),
        ...(c.message ? { message: c.message } : {}),
      })),
    },
  };
}

/** Deployments over the Kubernetes API, one client per kubeconfig context. */
export class KubeDeployments implements Deployments {
  constructor(private readonly clients: KubeClients) {}

  async get(t: KubeTarget): Promise<DeploymentSnapshot> {
    const what = `Deployment ${t.namespace}/${t.deployment}`;
    try {
      const api = await this.clients.for(t.context);
      return snapshot(
        await api.get<Deployment>({ ...DEPLOYMENTS, namespace: t.namespace, name: t.deployment }),
      );
    } catch (err) {
      throw kubeError(err, what, t.context);
    }
  }

  async history(t: KubeTarget): Promise<DeploymentHistory> {
    const deployment = await this.get(t);
    let list: ReplicaSet[];
    try {
      const api = await this.clients.for(t.context);
      list = (
        await api.get<{ items: ReplicaSet[] }>(
          { ...REPLICA_SETS, namespace: t.namespace },
          { labelSelector: deployment.selector },
        )
      ).items;
    } catch (err) {
      throw kubeError(err, `ReplicaSets of Deployment ${t.namespace}/${t.deployment}`, t.context);
    }
    const revisions: RevisionEntry[] = [];
    for (const rs of list) {
      const owned = (rs.metadata?.ownerReferences ?? []).some(
        (o) => o.controller === true && o.uid === deployment.uid,
      );
      if (!owned) continue;
      const annotations = rs.metadata?.annotations ?? {};
      const revision = parseRevision(annotations);
      if (revision === undefined) continue;
      const template = (rs.spec?.template ?? {}) as PodTemplate;
      revisions.push({
        revision,
        replicaSet: rs.metadata?.name ?? '',
        images: imagesOf(template),
        ...(rs.metadata?.creationTimestamp
          ? { createdAt: new Date(rs.metadata.creationTimestamp).toISOString() }
          : {}),
        current: sameTemplate(template, deployment.template),
        template,
        annotations,
      });
    }
    revisions.sort((a, b) => b.revision - a.revision);
    return { deployment, revisions };
  }

  async restoreTemplate(
    t: KubeTarget,
    template: PodTemplate,
    annotations: Record<string, string>,
    expect: { generation: number; resourceVersion: string },
  ): Promise<GuardedWrite> {
    const body = [
      // Preconditions: the spec is still the one planned from (a failed test is a 422), and nothing
      // at all was written since the last read (a resourceVersion in the result is checked: 409).
      { op: 'test', path: '/metadata/generation', value: expect.generation },
      { op: 'replace', path: '/metadata/resourceVersion', value: expect.resourceVersion },
      { op: 'replace', path: '/spec/template', value: template },
      { op: 'replace', path: '/metadata/annotations', value: annotations },
    ];
    try {
      const api = await this.clients.for(t.context);
      const updated = await api.patch<Deployment>(
        { ...DEPLOYMENTS, namespace: t.namespace, name: t.deployment },
        body,
        PatchStrategy.JsonPatch,
      );
      return { ok: true, deployment: snapshot(updated) };
    } catch (err) {
      if (isKubeApiError(err) && err.code === 409) return { ok: false, reason: 'conflict' };
      if (isKubeApiError(err) && err.code === 422 && /test(ing value)?.*failed/i.test(bodyText(err.body)))
        return { ok: false, reason: 'changed' };
      throw kubeError(err, `Deployment ${t.namespace}/${t.deployment}`, t.context);
    }
  }

  async setImage(t: KubeTarget, container: string, image: string): Promise<DeploymentSnapshot> {
    // Strategic merge on the containers list (merge key: name), as `kubectl set image` does.
    const body = { spec: { template: { spec: { containers: [{ name: container, image }] } } } };
    return this.patch(t, body, PatchStrategy.StrategicMergePatch);
  }

  private async patch(t: KubeTarget, body: object, strategy: PatchStrategy): Promise<DeploymentSnapshot> {
    try {
      const api = await this.clients.for(t.context);
      const updated = await api.patch<Deployment>(
        { ...DEPLOYMENTS, namespace: t.namespace, name: t.deployment },
        body,
        strategy,
      );
      return snapshot(updated);
    } catch (err) {
      throw kubeError(err, `Deployment ${t.namespace}/${t.deployment}`, t.context);
    }
  }
}

function bodyText(body: unknown): string {
  return typeof body === 'string' ? body : JSON.stringify(body ?? '');
}
