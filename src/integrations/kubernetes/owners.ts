import { PatchStrategy, type KubeClients } from './clients.js';
import { isKubeApiError, kubeError } from './errors.js';
import type { DeploymentSnapshot, KubeTarget } from './types.js';

/**
 * Who else manages a Deployment and may put its own template back after a rollback: Argo CD
 * (tracking annotation or instance label, and the Application it names), Flux (kustomize-controller
 * and helm-controller labels, and the Kustomization or HelmRelease they name) and Helm.
 */
export type OwnerKind = 'argocd' | 'flux-kustomization' | 'flux-helmrelease' | 'helm';

export interface WorkloadOwner {
  kind: OwnerKind;
  name: string;
  namespace: string;
  /**
   * `auto`: it puts its own template back by itself; `manual`: only at its next sync or upgrade;
   * `unknown`: it could not be read, so backout cannot tell.
   */
  sync: 'auto' | 'manual' | 'unknown';
  /** Why, in plain words: "syncs automatically with self-heal", "suspended", "403 …". */
  note: string;
  /** Where its desired state lives: "git https://… path deploy/checkout at main". */
  source?: string;
  /** Argo CD: the automated sync policy it had (to resume it as it was). */
  automated?: { selfHeal: boolean; prune: boolean };
}

export interface SyncOwners {
  /** The GitOps and release owners of the Deployment. */
  read(target: KubeTarget, deployment: DeploymentSnapshot): Promise<WorkloadOwner[]>;
  /** Pauses an owner's automatic sync; idempotent (says when it was already paused). */
  pause(context: string, owner: WorkloadOwner): Promise<{ already: boolean }>;
}

export const ARGOCD_NAMESPACE = 'argocd';

const CR = {
  argocd: { group: 'argoproj.io', version: 'v1alpha1', plural: 'applications', label: 'Argo CD Application' },
  'flux-kustomization': {
    group: 'kustomize.toolkit.fluxcd.io',
    version: 'v1',
    plural: 'kustomizations',
    label: 'Flux Kustomization',
  },
  'flux-helmrelease': {
    group: 'helm.toolkit.fluxcd.io',
    version: 'v2',
    plural: 'helmreleases',
    label: 'Flux HelmRelease',
  },
} as const;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** "Argo CD Application `argocd/checkout`". */
export function ownerName(o: WorkloadOwner): string {
  const label = o.kind === 'helm' ? 'Helm release' : CR[o.kind].label;
  return `${label} \`${o.namespace}/${o.name}\``;
}

/** The command that resumes the owner's sync as it was. */
export function resumeCommand(o: WorkloadOwner): string {
  if (o.kind === 'argocd') {
    const app = o.namespace === ARGOCD_NAMESPACE ? o.name : `${o.namespace}/${o.name}`;
    const flags = `${o.automated?.selfHeal ? ' --self-heal' : ''}${o.automated?.prune ? ' --auto-prune' : ''}`;
    return `argocd app set ${app} --sync-policy automated${flags}`;
  }
  if (o.kind === 'flux-kustomization') return `flux resume kustomization ${o.name} -n ${o.namespace}`;
  if (o.kind === 'flux-helmrelease') return `flux resume helmrelease ${o.name} -n ${o.namespace}`;
  return `helm upgrade ${o.name} -n ${o.namespace} …`;
}

/** Where the owners named on a Deployment live (before reading them). */
export function ownerRefs(
  d: DeploymentSnapshot,
): { kind: OwnerKind; name: string; namespace: string; strong: boolean }[] {
  const refs: { kind: OwnerKind; name: string; namespace: string; strong: boolean }[] = [];
  const tracking = str(d.annotations['argocd.argoproj.io/tracking-id']);
  const instance = str(d.labels['app.kubernetes.io/instance']);
  // tracking-id: `<app>:<group>/<Kind>:<namespace>/<name>`; `<app>` is `<ns>_<name>` for apps outside argocd.
  const app = tracking?.split(':')[0] ?? instance;
  if (app) {
    const [ns, name] = app.includes('_') ? app.split('_', 2) : [ARGOCD_NAMESPACE, app];
    refs.push({ kind: 'argocd', name: name!, namespace: ns!, strong: tracking !== undefined });
  }
  const kName = str(d.labels['kustomize.toolkit.fluxcd.io/name']);
  if (kName) {
    const ns = str(d.labels['kustomize.toolkit.fluxcd.io/namespace']) ?? d.namespace;
    refs.push({ kind: 'flux-kustomization', name: kName, namespace: ns, strong: true });
  }
  const hName = str(d.labels['helm.toolkit.fluxcd.io/name']);
  if (hName) {
    const ns = str(d.labels['helm.toolkit.fluxcd.io/namespace']) ?? d.namespace;
    refs.push({ kind: 'flux-helmrelease', name: hName, namespace: ns, strong: true });
  }
  const release = str(d.annotations['meta.helm.sh/release-name']);
  if (release && !hName) {
    const ns = str(d.annotations['meta.helm.sh/release-namespace']) ?? d.namespace;
    refs.push({ kind: 'helm', name: release, namespace: ns, strong: true });
  }
  return refs;
}

/** How an Argo CD Application or Flux object syncs, from its spec. */
export function syncOf(
  kind: Exclude<OwnerKind, 'helm'>,
  resource: unknown,
): Pick<WorkloadOwner, 'sync' | 'note' | 'source' | 'automated'> {
  const spec = obj(obj(resource).spec);
  if (kind === 'argocd') {
    const src = obj(spec.source ?? (Array.isArray(spec.sources) ? spec.sources[0] : undefined));
    const repo = str(src.repoURL);
    const source = repo
      ? `git ${repo}${str(src.path) ? ` path ${str(src.path)}` : ''}${str(src.chart) ? ` chart ${str(src.chart)}` : ''} at ${str(src.targetRevision) ?? 'HEAD'}`
      : undefined;
    const automated = spec.syncPolicy !== undefined ? obj(spec.syncPolicy).automated : undefined;
    if (automated === undefined || automated === null || obj(automated).enabled === false) {
      return {
        sync: 'manual',
        note: 'automated sync is off: it changes the Deployment only when someone syncs it',
        ...(source ? { source } : {}),
      };
    }
    const selfHeal = obj(automated).selfHeal === true;
    const prune = obj(automated).prune === true;
    return {
      sync: 'auto',
      note: selfHeal
        ? 'syncs automatically with self-heal: it puts its own template back within seconds'
        : 'syncs automatically: it puts its own template back at its next sync (the next commit, or a refresh)',
      ...(source ? { source } : {}),
      automated: { selfHeal, prune },
    };
  }
  const interval = str(spec.interval) ?? 'its interval';
  const ref = obj(spec.sourceRef);
  const source =
    kind === 'flux-kustomization'
      ? `${str(ref.kind) ?? 'source'} ${str(ref.name) ?? '?'}${str(spec.path) ? ` path ${str(spec.path)}` : ''}`
      : `chart ${str(obj(obj(obj(spec.chart).spec)).chart) ?? str(obj(spec.chartRef).name) ?? '?'}`;
  if (spec.suspend === true)
    return { sync: 'manual', note: 'suspended: it changes nothing until resumed', source };
  if (kind === 'flux-helmrelease' && obj(spec.driftDetection).mode !== 'enabled') {
    return {
      sync: 'manual',
      note: `drift detection is off: it puts the chart's template back at its next upgrade`,
      source,
    };
  }
  return {
    sync: 'auto',
    note: `reconciles every ${interval}: it puts its own template back within that`,
    source,
  };
}

/** Reads the owners' custom resources, one API client per context. */
export class KubeSyncOwners implements SyncOwners {
  constructor(private readonly clients: KubeClients) {}

  async read(t: KubeTarget, d: DeploymentSnapshot): Promise<WorkloadOwner[]> {
    const owners: WorkloadOwner[] = [];
    for (const ref of ownerRefs(d)) {
      if (ref.kind === 'helm') {
        owners.push({
          ...ref,
          sync: 'manual',
          note: "installed by Helm: the next `helm upgrade` puts the chart's template back",
        });
        continue;
      }
      const what = `${CR[ref.kind].label} ${ref.namespace}/${ref.name}`;
      try {
        const resource: unknown = await (
          await this.clients.for(t.context)
        ).get({
          ...CR[ref.kind],
          namespace: ref.namespace,
          name: ref.name,
        });
        owners.push({
          kind: ref.kind,
          name: ref.name,
          namespace: ref.namespace,
          ...syncOf(ref.kind, resource),
        });
      } catch (err) {
        // The instance label alone is also set by Helm charts: no such Application means no Argo CD.
        if (isKubeApiError(err) && err.code === 404 && !ref.strong) continue;
        const why =
          isKubeApiError(err) && err.code === 404
            ? `named on the Deployment but not found in context ${t.context}`
            : `could not be read: ${kubeError(err, what, t.context).message}`;
        owners.push({ kind: ref.kind, name: ref.name, namespace: ref.namespace, sync: 'unknown', note: why });
      }
    }
    return owners;
  }

  async pause(context: string, owner: WorkloadOwner): Promise<{ already: boolean }> {
    if (owner.kind === 'helm') return { already: true };
    const type = CR[owner.kind];
    const what = `${type.label} ${owner.namespace}/${owner.name}`;
    try {
      const api = await this.clients.for(context);
      const current = syncOf(
        owner.kind,
        await api.get({ ...type, namespace: owner.namespace, name: owner.name }),
      );
      if (current.sync !== 'auto') return { already: true };
      // Argo CD: removing `automated` turns automated sync off (what `--sync-policy none` does);
      // Flux: `spec.suspend: true` (what `flux suspend` does). Both are JSON merge patches.
      const body =
        owner.kind === 'argocd' ? { spec: { syncPolicy: { automated: null } } } : { spec: { suspend: true } };
      await api.patch(
        { ...type, namespace: owner.namespace, name: owner.name },
        body,
        PatchStrategy.MergePatch,
      );
      return { already: false };
    } catch (err) {
      throw kubeError(err, what, context);
    }
  }
}
