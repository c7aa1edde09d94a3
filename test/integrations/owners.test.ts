import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastTemplateWriter } from '../../jobs/rollback-guard.js';
import { KubeClients, plainHttpCredentials } from '../../src/integrations/kubernetes/clients.js';
import { KubeDeployments } from '../../src/integrations/kubernetes/deployments.js';
import { readKubeconfigFiles } from '../../src/integrations/kubernetes/kubeconfig.js';
import { KubeSyncOwners, resumeCommand, syncOf } from '../../src/integrations/kubernetes/owners.js';
import type { KubeTarget } from '../../src/integrations/kubernetes/types.js';
import { kubeconfigYaml, writeKubeconfig } from '../doubles/kubeconfig.js';
import { KubernetesDouble } from '../doubles/kubernetes.js';

const target: KubeTarget = { context: 'prod', namespace: 'shop', deployment: 'api' };

describe('GitOps owners read from a Deployment and the objects it names (Kubernetes double)', () => {
  let k8s: KubernetesDouble;
  let dir: string;
  let deployments: KubeDeployments;
  let owners: KubeSyncOwners;

  beforeAll(async () => {
    k8s = await KubernetesDouble.start({ name: 'prod', tickMs: 10 });
    dir = await mkdtemp(join(tmpdir(), 'owners-'));
    writeKubeconfig(join(dir, 'config'), [{ name: 'prod', server: k8s.url }]);
    const clients = new KubeClients(join(dir, 'config'));
    deployments = new KubeDeployments(clients);
    owners = new KubeSyncOwners(clients);
  });
  afterAll(async () => {
    await k8s.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function seed(labels: Record<string, string>, annotations: Record<string, string> = {}) {
    k8s.remove('Deployment', 'shop', 'api');
    k8s.addDeployment({
      namespace: 'shop',
      name: 'api',
      labels: { app: 'api', ...labels },
      annotations,
      containers: [[{ name: 'app', image: 'api:1' }]],
    });
  }

  it('a Flux Kustomization that reconciles is "auto"; pausing suspends it once, then says it already is', async () => {
    seed({
      'kustomize.toolkit.fluxcd.io/name': 'apps',
      'kustomize.toolkit.fluxcd.io/namespace': 'flux-system',
    });
    k8s.addCustom('Kustomization', {
      metadata: { name: 'apps', namespace: 'flux-system' },
      spec: {
        interval: '5m',
        path: './apps',
        sourceRef: { kind: 'GitRepository', name: 'fleet' },
        prune: true,
      },
    });
    const [owner, ...rest] = await owners.read(target, await deployments.get(target));
    expect(rest).toEqual([]);
    expect(owner).toMatchObject({
      kind: 'flux-kustomization',
      name: 'apps',
      namespace: 'flux-system',
      sync: 'auto',
      source: 'GitRepository fleet path ./apps',
    });
    expect(owner!.note).toContain('every 5m');
    expect(await owners.pause('prod', owner!)).toEqual({ already: false });
    expect(k8s.get('Kustomization', 'flux-system', 'apps')?.spec.suspend).toBe(true);
    expect(await owners.pause('prod', owner!)).toEqual({ already: true });
    expect(k8s.patches('Kustomization')).toHaveLength(1);
    expect(resumeCommand(owner!)).toBe('flux resume kustomization apps -n flux-system');
  });

  it('an instance label without an Application is not Argo CD (Helm sets it too); a tracking annotation without one is "unknown"', async () => {
    seed({ 'app.kubernetes.io/instance': 'api' }, { 'meta.helm.sh/release-name': 'api' });
    expect(await owners.read(target, await deployments.get(target))).toEqual([
      expect.objectContaining({ kind: 'helm', name: 'api', namespace: 'shop', sync: 'manual' }),
    ]);
    seed({}, { 'argocd.argoproj.io/tracking-id': 'team_api:apps/Deployment:shop/api' });
    const [owner] = await owners.read(target, await deployments.get(target));
    expect(owner).toMatchObject({ kind: 'argocd', name: 'api', namespace: 'team', sync: 'unknown' });
    expect(owner!.note).toContain('not found');
  });

  it('an Application backout may not read is "unknown", with Kubernetes\' answer', async () => {
    seed({ 'app.kubernetes.io/instance': 'api' });
    k8s.addCustom('Application', {
      metadata: { name: 'api', namespace: 'argocd' },
      spec: { project: 'default' },
    });
    k8s.deny({ verb: 'get', resource: 'applications' });
    try {
      const [owner] = await owners.read(target, await deployments.get(target));
      expect(owner).toMatchObject({ kind: 'argocd', sync: 'unknown' });
      expect(owner!.note).toContain('403');
    } finally {
      k8s.allowAll();
    }
  });

  it("managedFields name who last wrote the pod template: backout's own patch, then argocd-controller", async () => {
    seed({});
    const before = await deployments.get(target);
    const write = await deployments.restoreTemplate(
      target,
      { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'app', image: 'api:0' }] } },
      {},
      { generation: before.generation, resourceVersion: before.resourceVersion },
    );
    expect(write.ok).toBe(true);
    expect(lastTemplateWriter((await deployments.get(target)).managers)?.manager).toBe('backout');
    k8s.update(
      'Deployment',
      'shop',
      'api',
      (d) => {
        d.spec!.template.spec!.containers[0]!.image = 'api:1';
      },
      { manager: 'argocd-controller' },
    );
    const after = await deployments.get(target);
    expect(lastTemplateWriter(after.managers)).toMatchObject({
      manager: 'argocd-controller',
      ownsTemplate: true,
    });
    // A stale precondition is refused, not applied.
    const stale = await deployments.restoreTemplate(
      target,
      after.template,
      {},
      {
        generation: before.generation,
        resourceVersion: after.resourceVersion,
      },
    );
    expect(stale).toEqual({ ok: false, reason: 'changed' });
    const conflict = await deployments.restoreTemplate(
      target,
      after.template,
      {},
      {
        generation: after.generation,
        resourceVersion: before.resourceVersion,
      },
    );
    expect(conflict).toEqual({ ok: false, reason: 'conflict' });
  });
});

describe('how an owner syncs, from its spec', () => {
  it.each([
    [{ syncPolicy: { automated: { selfHeal: true } } }, 'auto', 'self-heal'],
    [{ syncPolicy: { automated: {} } }, 'auto', 'at its next sync'],
    [{ syncPolicy: { automated: { enabled: false } } }, 'manual', 'automated sync is off'],
    [{ syncPolicy: {} }, 'manual', 'automated sync is off'],
  ])('Argo CD %j → %s', (spec, sync, note) => {
    const s = syncOf('argocd', { spec });
    expect(s.sync).toBe(sync);
    expect(s.note).toContain(note);
  });

  it('Flux: a suspended Kustomization is manual; a HelmRelease is auto only with drift detection on', () => {
    expect(syncOf('flux-kustomization', { spec: { suspend: true } }).sync).toBe('manual');
    expect(syncOf('flux-helmrelease', { spec: { interval: '10m' } }).sync).toBe('manual');
    expect(syncOf('flux-helmrelease', { spec: { driftDetection: { mode: 'enabled' } } }).sync).toBe('auto');
  });
});

describe('credentials only over TLS', () => {
  const load = (yaml: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'plain-http-')), 'config');
    writeFileSync(path, yaml);
    return readKubeconfigFiles([path]);
  };

  it('a token for an http:// server is a problem naming the context and the fix; https with a CA, or http without credentials, is not', () => {
    const problems = plainHttpCredentials(
      load(
        kubeconfigYaml([
          { name: 'prod', server: 'http://10.0.0.1:8080', token: 't0ken' },
          { name: 'staging', server: 'https://10.0.0.2:6443', token: 't0ken', ca: 'PEM' },
          { name: 'local', server: 'http://127.0.0.1:8001' },
        ]),
      ),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(
      'kubeconfig context "prod" would send a bearer token to http://10.0.0.1:8080',
    );
    expect(problems[0]).toContain('https://');
    expect(problems[0]).not.toContain('t0ken');
  });
});
