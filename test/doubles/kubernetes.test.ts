import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  CustomObjectsApi,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type V1Deployment,
  type V1ReplicaSet,
} from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { waitFor } from '../kit/wait.js';
import { writeKubeconfig } from './kubeconfig.js';
import { KubernetesDouble, type KindMap } from './kubernetes.js';

const NS = 'shop';
const REVISION = 'deployment.kubernetes.io/revision';
const json = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

let k8s: KubernetesDouble;
let dir: string;
let kc: KubeConfig;
let apps: AppsV1Api;
let custom: CustomObjectsApi;

beforeAll(async () => {
  k8s = await KubernetesDouble.start({ name: 'prod', tickMs: 10 });
  dir = await mkdtemp(join(tmpdir(), 'k8s-double-'));
  writeKubeconfig(join(dir, 'config'), [
    { name: 'prod', server: k8s.url, namespace: NS, token: 'prod-token' },
  ]);
  kc = new KubeConfig();
  kc.loadFromFile(join(dir, 'config'));
  apps = kc.makeApiClient(AppsV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
});

afterAll(async () => {
  await k8s.stop();
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  k8s.clearFaults();
  k8s.allowAll();
  k8s.setValidTokens(undefined);
});

/** Resolves to the ApiException the call rejects with. */
async function apiError(call: Promise<unknown>): Promise<ApiException<string>> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiException);
  return err as ApiException<string>;
}

function statusOf(err: ApiException<string>): { reason: string; message: string; code: number } {
  return JSON.parse(err.body) as { reason: string; message: string; code: number };
}

const revisionOf = (rs: V1ReplicaSet) => rs.metadata?.annotations?.[REVISION];

function addApi(name: string, images: string[], replicas = 3): KindMap['Deployment'] {
  return k8s.addDeployment({
    namespace: NS,
    name,
    replicas,
    containers: images.map((image) => [
      { name: 'app', image },
      { name: 'sidecar', image: 'proxy:1' },
    ]),
    annotations: { 'kubernetes.io/change-cause': 'seed' },
  });
}

function condition(d: V1Deployment | KindMap['Deployment'] | undefined, type: string) {
  return d?.status?.conditions?.find((c) => c.type === type);
}

describe('KubernetesDouble with @kubernetes/client-node', () => {
  it('serves a seeded Deployment and its ReplicaSets by label selector', async () => {
    addApi('catalog', ['catalog:1', 'catalog:2', 'catalog:3']);
    const d = await apps.readNamespacedDeployment({ name: 'catalog', namespace: NS });
    expect(d.metadata?.annotations?.[REVISION]).toBe('3');
    expect(d.metadata?.generation).toBe(3);
    expect(d.status).toMatchObject({
      observedGeneration: 3,
      replicas: 3,
      updatedReplicas: 3,
      availableReplicas: 3,
    });
    expect(condition(d, 'Progressing')?.reason).toBe('NewReplicaSetAvailable');
    expect(d.spec?.template?.spec?.containers[0]).toMatchObject({
      image: 'catalog:3',
      imagePullPolicy: 'IfNotPresent',
    });

    const list = await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: 'app=catalog' });
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThan(0);
    const byRevision = [...list.items].sort((a, b) => Number(revisionOf(a)) - Number(revisionOf(b)));
    expect(byRevision.map(revisionOf)).toEqual(['1', '2', '3']);
    expect(byRevision.map((rs) => rs.spec?.replicas)).toEqual([0, 0, 3]);
    for (const rs of byRevision) {
      expect(rs.metadata?.ownerReferences?.[0]).toMatchObject({
        kind: 'Deployment',
        uid: d.metadata?.uid,
        controller: true,
      });
      const hash = rs.metadata?.labels?.['pod-template-hash'];
      expect(rs.metadata?.name).toBe(`catalog-${hash}`);
      expect(rs.spec?.template?.metadata?.labels?.['pod-template-hash']).toBe(hash);
      expect(rs.metadata?.annotations?.['kubernetes.io/change-cause']).toBe('seed');
    }
    const setBased = await apps.listNamespacedReplicaSet({
      namespace: NS,
      labelSelector: 'app in (catalog,other)',
    });
    expect(setBased.items).toHaveLength(3);
    const none = await apps.listNamespacedDeployment({ namespace: NS, fieldSelector: 'metadata.name=nope' });
    expect(none.items).toEqual([]);
  });

  it('reuses revision 1 as revision n+1 after a kubectl-style undo patch, and status converges', async () => {
    addApi('api', ['api:1', 'api:2', 'api:3']);
    const events: string[] = [];
    const watch = await new Watch(kc).watch(
      `/apis/apps/v1/namespaces/${NS}/deployments`,
      { fieldSelector: 'metadata.name=api' },
      (type, obj: V1Deployment) => events.push(`${type} ${obj.status?.updatedReplicas ?? 0}`),
      () => undefined,
    );
    const deployment = await apps.readNamespacedDeployment({ name: 'api', namespace: NS });
    const { items } = await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: 'app=api' });
    const rev1 = items.find((rs) => revisionOf(rs) === '1')!;
    const template = structuredClone(rev1.spec!.template!);
    delete template.metadata!.labels!['pod-template-hash'];
    const annotations = { ...deployment.metadata!.annotations };

    await apps.patchNamespacedDeployment(
      {
        name: 'api',
        namespace: NS,
        body: [
          { op: 'replace', path: '/spec/template', value: template },
          { op: 'replace', path: '/metadata/annotations', value: annotations },
        ],
      },
      json,
    );

    const [sent] = k8s.patches('Deployment', 'api');
    expect(sent?.contentType).toBe('application/json-patch+json');
    expect((sent?.body as { op: string; path: string }[]).map((op) => `${op.op} ${op.path}`)).toEqual([
      'replace /spec/template',
      'replace /metadata/annotations',
    ]);

    const done = await waitFor(
      () => {
        const d = k8s.get('Deployment', NS, 'api');
        return d?.status?.observedGeneration === d?.metadata?.generation &&
          condition(d, 'Progressing')?.reason === 'NewReplicaSetAvailable'
          ? d
          : undefined;
      },
      { what: 'rollback to converge' },
    );
    expect(done.metadata?.annotations?.[REVISION]).toBe('4');
    expect(done.status).toMatchObject({
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
    });
    expect(done.status?.unavailableReplicas).toBeUndefined();

    const after = await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: 'app=api' });
    expect(after.items).toHaveLength(3);
    const reused = after.items.find((rs) => rs.metadata?.name === rev1.metadata?.name)!;
    expect(revisionOf(reused)).toBe('4');
    expect(reused.metadata?.annotations?.['deployment.kubernetes.io/revision-history']).toBe('1');
    expect(reused.spec?.replicas).toBe(3);
    expect(after.items.filter((rs) => rs !== reused).map((rs) => rs.spec?.replicas)).toEqual([0, 0]);

    // The watch saw the rollout progress one replica at a time.
    await waitFor(() => events.includes('MODIFIED 3'), { what: 'watch events' });
    expect(events[0]).toBe('ADDED 3');
    expect(events).toContain('MODIFIED 1');
    watch.abort();
  });

  it('shows ProgressDeadlineExceeded for a stalled rollout and converges once released', async () => {
    addApi('worker', ['worker:1'], 2);
    k8s.setRollout(NS, 'worker', { mode: 'stall', after: 1 });
    // A strategic merge patch merges containers by name: the sidecar stays.
    await apps.patchNamespacedDeployment(
      {
        name: 'worker',
        namespace: NS,
        body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'worker:2' }] } } } },
      },
      strategic,
    );
    const stalled = await waitFor(
      () => {
        const d = k8s.get('Deployment', NS, 'worker');
        return condition(d, 'Progressing')?.status === 'False' ? d : undefined;
      },
      { what: 'stall' },
    );
    expect(stalled.spec?.template?.spec?.containers.map((c) => c.image)).toEqual(['worker:2', 'proxy:1']);
    const newRS = k8s
      .list('ReplicaSet', NS)
      .find((rs) => rs.metadata?.labels?.app === 'worker' && rs.metadata.annotations?.[REVISION] === '2')!;
    expect(condition(stalled, 'Progressing')).toMatchObject({
      reason: 'ProgressDeadlineExceeded',
      message: `ReplicaSet "${newRS.metadata?.name}" has timed out progressing.`,
    });
    expect(stalled.status).toMatchObject({
      updatedReplicas: 2,
      availableReplicas: 2,
      readyReplicas: 2,
      replicas: 3,
    });
    expect(newRS.status).toMatchObject({ replicas: 2, readyReplicas: 1 });

    k8s.setRollout(NS, 'worker', { mode: 'converge' });
    await waitFor(
      () =>
        condition(k8s.get('Deployment', NS, 'worker'), 'Progressing')?.reason === 'NewReplicaSetAvailable',
      {
        what: 'convergence',
      },
    );
  });

  it('answers 409 Conflict to a PUT with a stale resourceVersion', async () => {
    addApi('cart', ['cart:1'], 1);
    const stale = await apps.readNamespacedDeployment({ name: 'cart', namespace: NS });
    k8s.update('Deployment', NS, 'cart', (d) => {
      d.metadata!.labels = { ...d.metadata!.labels, touched: 'yes' };
    });
    const err = await apiError(
      apps.replaceNamespacedDeployment({
        name: 'cart',
        namespace: NS,
        body: { ...stale, spec: { ...stale.spec!, replicas: 2 } },
      }),
    );
    expect(err.code).toBe(409);
    expect(statusOf(err)).toMatchObject({
      reason: 'Conflict',
      code: 409,
      message:
        'Operation cannot be fulfilled on deployments.apps "cart": the object has been modified; please apply your changes to the latest version and try again',
    });
    const fresh = await apps.readNamespacedDeployment({ name: 'cart', namespace: NS });
    const replaced = await apps.replaceNamespacedDeployment({
      name: 'cart',
      namespace: NS,
      body: { ...fresh, spec: { ...fresh.spec!, replicas: 2 } },
    });
    expect(replaced.metadata?.generation).toBe((fresh.metadata?.generation ?? 0) + 1);
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(
      Number(fresh.metadata?.resourceVersion),
    );
  });

  it('rejects writes that would produce an invalid object with 422 Invalid', async () => {
    addApi('search', ['search:1'], 1);
    const before = k8s.get('Deployment', NS, 'search')!;
    const wrongType = await apiError(
      apps.patchNamespacedDeployment(
        { name: 'search', namespace: NS, body: { spec: { replicas: 'three' } } },
        merge,
      ),
    );
    expect(wrongType.code).toBe(422);
    expect(statusOf(wrongType)).toMatchObject({ reason: 'Invalid' });
    expect(statusOf(wrongType).message).toContain('Deployment.apps "search" is invalid: spec.replicas');

    const mismatch = await apiError(
      apps.patchNamespacedDeployment(
        {
          name: 'search',
          namespace: NS,
          body: [{ op: 'replace', path: '/spec/template/metadata/labels', value: { app: 'x' } }],
        },
        json,
      ),
    );
    expect(statusOf(mismatch).message).toContain('`selector` does not match template `labels`');
    expect(k8s.get('Deployment', NS, 'search')?.metadata?.resourceVersion).toBe(
      before.metadata?.resourceVersion,
    );
  });

  it('keeps status out of main-resource Rollout patches and applies /status patches', async () => {
    k8s.addRollout({
      metadata: { name: 'web', namespace: NS },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'web:1' }] },
        },
        strategy: {
          canary: {
            canaryService: 'web-canary',
            stableService: 'web-stable',
            steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }, { pause: {} }, { setWeight: 80 }],
          },
        },
      },
    });
    expect(k8s.get('Rollout', NS, 'web')?.status).toMatchObject({ phase: 'Healthy', currentStepIndex: 5 });
    k8s.update('Rollout', NS, 'web', (r) => {
      const [container] = r.spec.template!.spec!.containers;
      if (!container) throw new Error('the rollout has no container');
      container.image = 'web:2';
    });
    const paused = k8s.get('Rollout', NS, 'web')!;
    expect(paused.metadata?.annotations?.['rollout.argoproj.io/revision']).toBe('2');
    expect(paused.status).toMatchObject({ phase: 'Paused', currentStepIndex: 1, controllerPause: true });
    expect(paused.status?.canary?.weights?.canary).toMatchObject({ weight: 20, serviceName: 'web-canary' });

    const target = {
      group: 'argoproj.io',
      version: 'v1alpha1',
      namespace: NS,
      plural: 'rollouts',
      name: 'web',
    };
    await custom.patchNamespacedCustomObject(
      { ...target, body: { spec: { paused: true }, status: { abort: true } } },
      merge,
    );
    expect(k8s.get('Rollout', NS, 'web')?.spec.paused).toBe(true);
    expect(k8s.get('Rollout', NS, 'web')?.status?.abort).toBeUndefined();
    await custom.patchNamespacedCustomObject({ ...target, body: { spec: { paused: null } } }, merge);

    // `kubectl argo rollouts promote`: clear the pause condition; the controller moves to the next pause.
    await custom.patchNamespacedCustomObjectStatus(
      { ...target, body: { status: { pauseConditions: null } } },
      merge,
    );
    expect(k8s.get('Rollout', NS, 'web')?.status).toMatchObject({ phase: 'Paused', currentStepIndex: 3 });
    expect(k8s.get('Rollout', NS, 'web')?.status?.canary?.weights?.canary.weight).toBe(50);

    // `abort`: Degraded, weight back to 0.
    const aborted = (await custom.patchNamespacedCustomObjectStatus(
      { ...target, body: { status: { abort: true } } },
      merge,
    )) as KindMap['Rollout'];
    expect(aborted.status?.abort).toBe(true);
    expect(k8s.get('Rollout', NS, 'web')?.status).toMatchObject({
      phase: 'Degraded',
      message: 'RolloutAborted: Rollout aborted update to revision 2',
      canary: { weights: { canary: { weight: 0 }, stable: { weight: 100 } } },
    });

    // `promote --full`: Healthy, stable is the new template, flag cleared.
    await custom.patchNamespacedCustomObjectStatus(
      { ...target, body: { status: { promoteFull: true } } },
      merge,
    );
    const promoted = k8s.get('Rollout', NS, 'web')!;
    expect(promoted.status).toMatchObject({ phase: 'Healthy', currentStepIndex: 5 });
    expect(promoted.status?.stableRS).toBe(promoted.status?.currentPodHash);
    expect(promoted.status?.promoteFull).toBeUndefined();
    expect(promoted.status?.abort).toBeUndefined();

    const strategicOnCrd = await apiError(
      custom.patchNamespacedCustomObject({ ...target, body: { spec: {} } }, strategic),
    );
    expect(strategicOnCrd.code).toBe(415);
  });

  it('merge- and JSON-patches Ingress canary annotations', async () => {
    const networking = kc.makeApiClient(NetworkingV1Api);
    k8s.addIngress({
      metadata: {
        name: 'shop-canary',
        namespace: NS,
        annotations: {
          'nginx.ingress.kubernetes.io/canary': 'true',
          'nginx.ingress.kubernetes.io/canary-weight': '10',
        },
      },
      spec: {
        ingressClassName: 'nginx',
        rules: [
          {
            host: 'shop.example.com',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'shop-canary', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
    const before = k8s.get('Ingress', NS, 'shop-canary')!;
    const patched = await networking.patchNamespacedIngress(
      {
        name: 'shop-canary',
        namespace: NS,
        body: { metadata: { annotations: { 'nginx.ingress.kubernetes.io/canary-weight': '50' } } },
      },
      merge,
    );
    expect(patched.metadata?.annotations).toEqual({
      'nginx.ingress.kubernetes.io/canary': 'true',
      'nginx.ingress.kubernetes.io/canary-weight': '50',
    });
    expect(patched.metadata?.generation).toBe(before.metadata?.generation);
    expect(Number(patched.metadata?.resourceVersion)).toBeGreaterThan(
      Number(before.metadata?.resourceVersion),
    );

    await networking.patchNamespacedIngress(
      {
        name: 'shop-canary',
        namespace: NS,
        body: [
          {
            op: 'test',
            path: '/metadata/annotations/nginx.ingress.kubernetes.io~1canary-weight',
            value: '50',
          },
          {
            op: 'replace',
            path: '/metadata/annotations/nginx.ingress.kubernetes.io~1canary-weight',
            value: '0',
          },
        ],
      },
      json,
    );
    expect(
      k8s.get('Ingress', NS, 'shop-canary')?.metadata?.annotations?.[
        'nginx.ingress.kubernetes.io/canary-weight'
      ],
    ).toBe('0');
  });

  it('answers 422 to an HTTPRoute JSON patch whose test fails, and merge patches replace arrays', async () => {
    const backends = (stable: number, canary: number) => [
      { name: 'shop-stable', port: 80, weight: stable },
      { name: 'shop-canary', port: 80, weight: canary },
    ];
    k8s.addHttpRoute({
      metadata: { name: 'shop', namespace: NS },
      spec: { parentRefs: [{ name: 'gateway' }], rules: [{ backendRefs: backends(90, 10) }] },
    });
    const target = {
      group: 'gateway.networking.k8s.io',
      version: 'v1',
      namespace: NS,
      plural: 'httproutes',
      name: 'shop',
    };
    const failed = await apiError(
      custom.patchNamespacedCustomObject(
        {
          ...target,
          body: [
            { op: 'test', path: '/spec/rules/0/backendRefs/1/weight', value: 20 },
            { op: 'replace', path: '/spec/rules/0/backendRefs/1/weight', value: 100 },
          ],
        },
        json,
      ),
    );
    expect(failed.code).toBe(422);
    expect(statusOf(failed)).toMatchObject({
      reason: 'Invalid',
      message: 'testing value /spec/rules/0/backendRefs/1/weight failed: test failed',
    });
    expect(k8s.get('HTTPRoute', NS, 'shop')?.spec?.rules?.[0]?.backendRefs?.[1]?.weight).toBe(10);

    await custom.patchNamespacedCustomObject(
      { ...target, body: { spec: { rules: [{ backendRefs: backends(0, 100) }] } } },
      merge,
    );
    const route = k8s.get('HTTPRoute', NS, 'shop')!;
    expect(route.spec?.rules?.[0]?.backendRefs?.map((b) => b.weight)).toEqual([0, 100]);
    expect(route.spec?.parentRefs).toEqual([{ name: 'gateway' }]);
    expect(route.metadata?.generation).toBe(2);

    const negative = await apiError(
      custom.patchNamespacedCustomObject(
        { ...target, body: [{ op: 'replace', path: '/spec/rules/0/backendRefs/0/weight', value: -1 }] },
        json,
      ),
    );
    expect(statusOf(negative).message).toContain('spec.rules.0.backendRefs.0.weight: must be >= 0');
  });

  it('answers SelfSubjectAccessReviews and enforces deny rules on real requests', async () => {
    k8s.addRollout({
      metadata: { name: 'checkout', namespace: NS },
      spec: {
        selector: { matchLabels: { app: 'checkout' } },
        template: {
          metadata: { labels: { app: 'checkout' } },
          spec: { containers: [{ name: 'c', image: 'checkout:1' }] },
        },
        strategy: { canary: { steps: [{ setWeight: 50 }] } },
      },
    });
    k8s.deny({ verb: 'patch', group: 'argoproj.io', resource: 'rollouts/status', namespace: NS });
    const authz = kc.makeApiClient(AuthorizationV1Api);
    const review = (resource: string, subresource?: string) =>
      authz.createSelfSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: {
            resourceAttributes: { verb: 'patch', group: 'argoproj.io', resource, subresource, namespace: NS },
          },
        },
      });
    expect((await review('rollouts', 'status')).status?.allowed).toBe(false);
    expect((await review('rollouts')).status?.allowed).toBe(true);

    const target = {
      group: 'argoproj.io',
      version: 'v1alpha1',
      namespace: NS,
      plural: 'rollouts',
      name: 'checkout',
    };
    const err = await apiError(
      custom.patchNamespacedCustomObjectStatus({ ...target, body: { status: { abort: true } } }, merge),
    );
    expect(err.code).toBe(403);
    expect(statusOf(err).message).toBe(
      'rollouts.argoproj.io "checkout" is forbidden: User "system:serviceaccount:backout:backout" cannot patch resource "rollouts/status" in API group "argoproj.io" in the namespace "shop"',
    );
  });

  it('serves one cluster per double from a multi-context kubeconfig, over HTTPS with a token', async () => {
    const staging = await KubernetesDouble.start({ name: 'staging', tls: true });
    try {
      staging.addDeployment({ namespace: NS, name: 'api', containers: [[{ name: 'app', image: 'api:9' }]] });
      writeKubeconfig(
        join(dir, 'two'),
        [
          { name: 'prod', server: k8s.url },
          { name: 'staging', server: staging.url, namespace: 'shop', ca: staging.caPem! },
        ],
        'staging',
      );
      const both = new KubeConfig();
      both.loadFromFile(join(dir, 'two'));
      expect(both.getContexts().map((c) => c.name)).toEqual(['prod', 'staging']);
      const d = await both.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'api', namespace: NS });
      expect(d.spec?.template?.spec?.containers[0]?.image).toBe('api:9');
      expect(staging.requests.at(-1)?.token).toBe('token-staging');
      expect(d.metadata?.uid).not.toBe(k8s.get('Deployment', NS, 'api')?.metadata?.uid);
    } finally {
      await staging.stop();
    }
  });

  it('checks tokens, injects faults, logs requests and serves discovery', async () => {
    addApi('auth', ['auth:1'], 1);
    k8s.setValidTokens(['other-token']);
    const unauthorized = await apiError(apps.readNamespacedDeployment({ name: 'auth', namespace: NS }));
    expect(unauthorized.code).toBe(401);
    k8s.setValidTokens(['prod-token']);
    await apps.readNamespacedDeployment({ name: 'auth', namespace: NS });
    expect(k8s.requests.at(-1)).toMatchObject({
      method: 'GET',
      token: 'prod-token',
      status: 200,
      resource: { kind: 'Deployment', name: 'auth' },
    });

    k8s.failNext({ method: 'PATCH', pathIncludes: '/deployments/auth', status: 409, count: 2 });
    const patch = () =>
      apps.patchNamespacedDeployment(
        { name: 'auth', namespace: NS, body: { metadata: { labels: { x: 'y' } } } },
        merge,
      );
    expect(statusOf(await apiError(patch())).reason).toBe('Conflict');
    expect((await apiError(patch())).code).toBe(409);
    await patch();
    k8s.failNext({ status: 500, message: 'etcdserver: request timed out' });
    expect(
      statusOf(await apiError(apps.readNamespacedDeployment({ name: 'auth', namespace: NS }))),
    ).toMatchObject({
      reason: 'InternalError',
      message: 'etcdserver: request timed out',
    });

    const missing = await apiError(apps.readNamespacedDeployment({ name: 'ghost', namespace: NS }));
    expect(statusOf(missing)).toMatchObject({
      reason: 'NotFound',
      message: 'deployments.apps "ghost" not found',
    });

    const headers = { Authorization: 'Bearer prod-token' };
    const version = (await (await fetch(`${k8s.url}/version`)).json()) as { gitVersion: string };
    expect(version.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
    const groups = (await (await fetch(`${k8s.url}/apis`, { headers })).json()) as {
      groups: { name: string }[];
    };
    expect(groups.groups.map((g) => g.name)).toEqual(
      expect.arrayContaining(['apps', 'argoproj.io', 'gateway.networking.k8s.io']),
    );
    const unknown = await fetch(`${k8s.url}/apis/example.com/v1/widgets`, { headers });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ kind: 'Status', reason: 'NotFound' });
  });
});
