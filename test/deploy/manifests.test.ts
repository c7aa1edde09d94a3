import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { validate as validateDockerfile } from 'dockerfile-utils';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigMap, Namespace, PersistentVolumeClaim, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ClusterRole, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { parseConfigText } from '../../src/config/load.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OVERLAYS = ['single-redis', 'sentinel', 'cluster'] as const;
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Namespace,
  ConfigMap,
  PersistentVolumeClaim,
  Service,
  ServiceAccount,
  Deployment,
  StatefulSet,
  Ingress,
  NetworkPolicy,
  ClusterRole,
  RoleBinding,
};

type Doc = Record<string, unknown> & { kind: string; metadata: { name: string } };
interface Container {
  name: string;
  image: string;
  args?: string[];
  env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports: { name: string; containerPort: number }[];
  readinessProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  resources: unknown;
  volumeMounts: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  volumes: { name: string; emptyDir?: object; persistentVolumeClaim?: { claimName: string } }[];
  securityContext: { runAsNonRoot: boolean };
}

const rendered = new Map<string, Promise<Doc[]>>();
/** What `kubectl kustomize` renders for an overlay (once per overlay): what `kubectl apply -k` would send. */
function render(overlay: string): Promise<Doc[]> {
  let docs = rendered.get(overlay);
  if (!docs) rendered.set(overlay, (docs = renderNow(overlay)));
  return docs;
}

async function renderNow(overlay: string): Promise<Doc[]> {
  const { stdout } = await promisify(execFile)(
    'kubectl',
    ['kustomize', join(ROOT, 'deploy', 'overlays', overlay)],
    {
      timeout: 30_000,
    },
  ).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT')
      throw new Error('kubectl is not installed (Debian: apt-get install kubernetes-client)');
    throw err;
  });
  return parseAllDocuments(stdout).map((d) => d.toJS() as Doc);
}

const one = (docs: Doc[], kind: string, name = 'backout') => {
  const found = docs.find((d) => d.kind === kind && d.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};
const backoutPod = (docs: Doc[]) =>
  (one(docs, 'Deployment') as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
const envOf = (docs: Doc[]) => new Map(backoutPod(docs).containers[0]!.env.map((e) => [e.name, e]));

describe.each(OVERLAYS)('deploy/overlays/%s rendered with kubectl kustomize', (overlay) => {
  it('every object validates against the Kubernetes schemas (the ServiceMonitor against its own shape)', async () => {
    const docs = await render(overlay);
    const kinds = docs.map((d) => d.kind).sort();
    for (const kind of [
      'Namespace',
      'ServiceAccount',
      'ClusterRole',
      'RoleBinding',
      'ConfigMap',
      'PersistentVolumeClaim',
      'Deployment',
      'Service',
      'Ingress',
      'ServiceMonitor',
    ]) {
      expect(kinds, `a ${kind}`).toContain(kind);
    }
    for (const doc of docs) {
      if (doc.kind === 'ServiceMonitor') continue;
      const Model = MODELS[doc.kind];
      expect(Model, `a model for ${doc.kind}`).toBeDefined();
      expect(() => new Model!(doc as never).validate(), `${doc.kind} ${doc.metadata.name}`).not.toThrow();
    }
    const monitor = one(docs, 'ServiceMonitor') as unknown as {
      apiVersion: string;
      metadata: { namespace: string };
      spec: {
        selector: { matchLabels: Record<string, string> };
        endpoints: { port: string; path: string }[];
      };
    };
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    const service = one(docs, 'Service') as unknown as {
      metadata: { labels: Record<string, string> };
      spec: { ports: { name: string; targetPort: string }[] };
    };
    // It selects backout's Service and scrapes a port that Service has.
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels))
      expect(service.metadata.labels[k]).toBe(v);
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
    expect(service.spec.ports.map((p) => p.name)).toEqual(['http', 'metrics']);
  });

  it('the image is pinned by digest; metrics have their own port; the Ingress exposes only /slack/events', async () => {
    const docs = await render(overlay);
    const [container] = backoutPod(docs).containers;
    expect(container!.image).toMatch(/^ghcr\.io\/acme\/backout:[\w.-]+@sha256:[0-9a-f]{64}$/);
    expect(container!.args).toEqual(['start']);
    const env = envOf(docs);
    const metricsPort = container!.ports.find((p) => p.name === 'metrics')!.containerPort;
    expect(env.get('METRICS_PORT')?.value).toBe(String(metricsPort));
    expect(env.get('PORT')?.value).toBe(
      String(container!.ports.find((p) => p.name === 'http')!.containerPort),
    );
    expect(container!.readinessProbe.httpGet).toEqual({ path: '/healthz/ready', port: 'http' });
    expect(container!.livenessProbe.httpGet).toEqual({ path: '/healthz/live', port: 'http' });
    const ingress = one(docs, 'Ingress') as unknown as {
      spec: {
        rules: {
          http: {
            paths: { path: string; pathType: string; backend: { service: { port: { name: string } } } }[];
          };
        }[];
      };
    };
    const paths = ingress.spec.rules.flatMap((r) => r.http.paths);
    expect(paths.map((p) => [p.path, p.pathType, p.backend.service.port.name])).toEqual([
      ['/slack/events', 'Exact', 'http'],
    ]);
  });

  it('the audit log lives on a PersistentVolumeClaim with one writer, never an emptyDir', async () => {
    const docs = await render(overlay);
    const deployment = one(docs, 'Deployment') as unknown as {
      spec: { replicas: number; strategy: { type: string } };
    };
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy.type).toBe('Recreate');
    const pod = backoutPod(docs);
    const auditDir = envOf(docs).get('AUDIT_LOG_DIR')!.value!;
    const mount = pod.containers[0]!.volumeMounts.find((m) => m.mountPath === auditDir)!;
    const volume = pod.volumes.find((v) => v.name === mount.name)!;
    expect(volume.emptyDir).toBeUndefined();
    const claim = one(docs, 'PersistentVolumeClaim', volume.persistentVolumeClaim!.claimName) as unknown as {
      spec: { accessModes: string[] };
    };
    expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);
  });

  it('secrets come from existing Secrets, never from the manifests', async () => {
    const docs = await render(overlay);
    expect(docs.some((d) => d.kind === 'Secret')).toBe(false);
    const env = envOf(docs);
    for (const name of ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'GITHUB_TOKEN']) {
      expect(env.get(name)?.valueFrom?.secretKeyRef?.name, name).toBe('backout');
      expect(env.get(name)?.value).toBeUndefined();
    }
  });

  it('RBAC grants exactly the verbs backout calls', async () => {
    const role = one(await render(overlay), 'ClusterRole') as unknown as {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    const grants = role.rules
      .flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${r.apiGroups[0]}/${res}:${v}`)))
      .sort();
    expect(grants).toEqual(
      [
        'apps/deployments:get',
        'apps/deployments:patch',
        'apps/replicasets:list',
        'argoproj.io/applications:get',
        'argoproj.io/applications:patch',
        'kustomize.toolkit.fluxcd.io/kustomizations:get',
        'kustomize.toolkit.fluxcd.io/kustomizations:patch',
        'helm.toolkit.fluxcd.io/helmreleases:get',
        'helm.toolkit.fluxcd.io/helmreleases:patch',
        'argoproj.io/rollouts:get',
        'argoproj.io/rollouts:patch',
        'argoproj.io/rollouts/status:patch',
        'gateway.networking.k8s.io/httproutes:get',
        'gateway.networking.k8s.io/httproutes:patch',
        'networking.k8s.io/ingresses:get',
        'networking.k8s.io/ingresses:patch',
        'batch/cronjobs:get',
        'batch/cronjobs:patch',
        'core.openfeature.dev/featureflags:get',
        'core.openfeature.dev/featureflags:patch',
      ].sort(),
    );
  });

  it('the config file and the in-cluster kubeconfig load', async () => {
    const config = one(await render(overlay), 'ConfigMap', 'backout-config') as unknown as {
      data: Record<string, string>;
    };
    expect(parseConfigText(config.data['backout.yml']!).ok).toBe(true);
    const kc = new KubeConfig();
    kc.loadFromString(config.data.kubeconfig!);
    expect(kc.getContexts().map((c) => c.name)).toEqual(['in-cluster']);
  });
});

describe('how each overlay reaches Redis', () => {
  it('single-redis: its own Redis StatefulSet with a persistent volume, AOF and noeviction, behind a password', async () => {
    const docs = await render('single-redis');
    const redis = one(docs, 'StatefulSet', 'backout-redis') as unknown as {
      spec: {
        volumeClaimTemplates: { metadata: { name: string } }[];
        template: { spec: { containers: Container[] } };
      };
    };
    expect(redis.spec.volumeClaimTemplates.map((t) => t.metadata.name)).toEqual(['data']);
    const args = redis.spec.template.spec.containers[0]!.args!.join(' ');
    expect(args).toContain('--appendonly yes');
    expect(args).toContain('--maxmemory-policy noeviction');
    expect(args).toContain('--requirepass');
    const env = envOf(docs);
    expect(env.get('REDIS_URL')?.value).toMatch(/^redis:\/\/:\$\(\w+\)@backout-redis:6379$/);
    expect([...env.keys()].filter((k) => /^REDIS_(SENTINEL|CLUSTER)/.test(k))).toEqual([]);
  });

  it('sentinel: REDIS_SENTINELS and REDIS_SENTINEL_MASTER, credentials from a Secret, no REDIS_URL', async () => {
    const env = envOf(await render('sentinel'));
    expect(env.get('REDIS_SENTINELS')?.value).toMatch(/^[\w.-]+:\d+(,[\w.-]+:\d+)*$/);
    expect(env.get('REDIS_SENTINEL_MASTER')?.value).toBeTruthy();
    expect(env.get('REDIS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
      name: 'backout-redis',
      key: 'password',
    });
    expect(env.get('REDIS_USERNAME')?.valueFrom?.secretKeyRef?.name).toBe('backout-redis');
    expect(env.get('REDIS_TLS')?.value).toMatch(/^(true|false)$/);
    expect(env.has('REDIS_URL')).toBe(false);
  });

  it('cluster: REDIS_CLUSTER_NODES and a hash-tag prefix, credentials from a Secret, no REDIS_URL', async () => {
    const env = envOf(await render('cluster'));
    expect(env.get('REDIS_CLUSTER_NODES')?.value).toMatch(/^[\w.-]+:\d+(,[\w.-]+:\d+)*$/);
    expect(env.get('BACKOUT_PREFIX')?.value).toMatch(/^\{[^}]+\}$/);
    expect(env.get('REDIS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
      name: 'backout-redis',
      key: 'password',
    });
    expect(env.has('REDIS_URL')).toBe(false);
  });
});

describe('Dockerfile', () => {
  it('lints clean and follows the rules: multi-stage, npm ci, production dependencies only, non-root, HEALTHCHECK', async () => {
    const text = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
    const problems = validateDockerfile(text);
    expect(
      problems.map(
        (p) => `${p.range.start.line + 1}: ${typeof p.message === 'string' ? p.message : p.message.value}`,
      ),
    ).toEqual([]);
    const instructions = text.split('\n').filter((l) => /^[A-Z]+\s/.test(l));
    expect(instructions.filter((l) => l.startsWith('FROM ')).length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/RUN npm ci/);
    expect(text).toMatch(/npm prune --omit=dev/);
    expect(instructions.some((l) => /^USER (node|\d+)/.test(l))).toBe(true);
    expect(instructions.some((l) => l.startsWith('HEALTHCHECK'))).toBe(true);
    expect(
      instructions.filter((l) => l.startsWith('FROM ')).every((l) => !/:latest\b/.test(l) && /:\d+/.test(l)),
    ).toBe(true);
    expect(text).not.toMatch(/^ADD /m);
    // `backout` alone prints help: the image starts the server explicitly.
    expect(text).toMatch(/^CMD \["start"\]$/m);
  });
});
