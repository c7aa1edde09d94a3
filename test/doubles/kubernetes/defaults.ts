// Defaulting that the API server applies to apps/v1 workloads on every write (pkg/apis/apps/v1 and
// core/v1 defaults). It matters for template equality: an old ReplicaSet's template carries these
// defaults, so a template sent without them must be defaulted before the controller compares the two.
import { isObject, type JsonObject } from './json.js';
import type { KObject, Kind } from './resources.js';

function defaultContainers(list: unknown): void {
  if (!Array.isArray(list)) return;
  for (const c of list) {
    if (!isObject(c)) continue;
    c.terminationMessagePath ??= '/dev/termination-log';
    c.terminationMessagePolicy ??= 'File';
    if (typeof c.image === 'string' && c.imagePullPolicy === undefined) {
      const tag = /:([^/:@]+)$/.exec(c.image)?.[1];
      c.imagePullPolicy =
        c.image.includes('@') || (tag !== undefined && tag !== 'latest') ? 'IfNotPresent' : 'Always';
    }
    c.resources ??= {};
    if (Array.isArray(c.ports)) for (const p of c.ports) if (isObject(p)) p.protocol ??= 'TCP';
  }
}

export function defaultPodTemplate(template: unknown): void {
  if (!isObject(template) || !isObject(template.spec)) return;
  const spec: JsonObject = template.spec;
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  defaultContainers(spec.containers);
  defaultContainers(spec.initContainers);
}

export function applyDefaults(kind: Kind, obj: KObject): void {
  if (kind !== 'Deployment' && kind !== 'ReplicaSet') return;
  if (!isObject(obj.spec)) return;
  const spec = obj.spec;
  spec.replicas ??= 1;
  if (kind === 'Deployment') {
    spec.revisionHistoryLimit ??= 10;
    spec.progressDeadlineSeconds ??= 600;
    if (!isObject(spec.strategy)) spec.strategy = { type: 'RollingUpdate' };
    const strategy = spec.strategy as JsonObject;
    strategy.type ??= 'RollingUpdate';
    if (strategy.type === 'RollingUpdate') {
      if (!isObject(strategy.rollingUpdate)) strategy.rollingUpdate = {};
      const rolling = strategy.rollingUpdate as JsonObject;
      rolling.maxSurge ??= '25%';
      rolling.maxUnavailable ??= '25%';
    }
  }
  defaultPodTemplate(spec.template);
}
