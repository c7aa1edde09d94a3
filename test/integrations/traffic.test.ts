import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KubeClients } from '../../src/integrations/kubernetes/clients.js';
import { KubeDeployments } from '../../src/integrations/kubernetes/deployments.js';
import { createTrafficProviders } from '../../src/integrations/traffic/index.js';
import { promotePatches, rolloutStops } from '../../src/integrations/traffic/argo-plugin.js';
import type { TrafficTarget } from '../../src/integrations/traffic/types.js';
import { writeKubeconfig } from '../doubles/kubeconfig.js';
import { KubernetesDouble } from '../doubles/kubernetes.js';
import { waitFor } from '../kit/wait.js';

const NS = 'shop';
let k8s: KubernetesDouble;
let dir: string;
let traffic: ReturnType<typeof createTrafficProviders>;

beforeAll(async () => {
  k8s = await KubernetesDouble.start({ name: 'prod' });
  dir = await mkdtemp(join(tmpdir(), 'backout-traffic-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, [{ name: 'prod', server: k8s.url }]);
  const clients = new KubeClients(kubeconfig);
  traffic = createTrafficProviders(clients, new KubeDeployments(clients));
});
afterAll(async () => {
  await k8s.stop();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  k8s.clearFaults();
});

function target(provider: TrafficTarget['provider'], object: string, app: string): TrafficTarget {
  return {
    provider,
    context: 'prod',
    namespace: NS,
    object,
    stableDeployment: app,
    canaryDeployment: `${app}-canary`,
    stableBackend: app,
    canaryBackend: `${app}-canary`,
  };
}

function seedPair(app: string): void {
  k8s.addDeployment({
    namespace: NS,
    name: app,
    replicas: 2,
    containers: [[{ name: 'app', image: `shop/${app}:1.0.0` }]],
  });
  k8s.addDeployment({
    namespace: NS,
    name: `${app}-canary`,
    replicas: 1,
    containers: [[{ name: 'app', image: `shop/${app}:1.0.0` }]],
  });
}

const ingressSpec = (service: string) => ({
  ingressClassName: 'nginx',
  rules: [
    {
      host: 'shop.example.com',
      http: {
        paths: [
          {
            path: '/',
            pathType: 'Prefix' as const,
            backend: { service: { name: service, port: { number: 80 } } },
          },
        ],
      },
    },
  ],
});

describe('NGINX Ingress canary annotations', () => {
  const t = target('nginx-ingress', 'web-canary', 'web');
  beforeAll(() => {
    seedPair('web');
    k8s.addIngress({ metadata: { name: 'web-canary', namespace: NS }, spec: ingressSpec('web-canary') });
  });

  it('sets canary "true" and canary-weight as strings with one merge patch, and not again when already there', async () => {
    const nginx = traffic.for('nginx-ingress');
    expect(await nginx.read(t)).toMatchObject({
      weight: 0,
      idle: true,
      stableImage: 'shop/web:1.0.0',
      container: 'app',
    });
    k8s.clearRequests();
    expect(await nginx.advance(t, { weight: 20 })).toBe('patched');
    expect(await nginx.advance(t, { weight: 20 })).toBe('unchanged');
    const patches = k8s.patches('Ingress', 'web-canary');
    expect(patches).toHaveLength(1);
    expect(patches[0]!.contentType).toContain('application/merge-patch+json');
    expect(patches[0]!.body).toEqual({
      metadata: {
        annotations: {
          'nginx.ingress.kubernetes.io/canary': 'true',
          'nginx.ingress.kubernetes.io/canary-weight': '20',
        },
      },
    });
    expect(await nginx.observe(t, { weight: 20 })).toMatchObject({ done: true });
  });

  it('aborts to weight "0" and keeps the canary enabled, as Flagger leaves it', async () => {
    const nginx = traffic.for('nginx-ingress');
    await nginx.advance(t, { weight: 50 });
    expect(await nginx.abort(t)).toBe('patched');
    const annotations = k8s.get('Ingress', NS, 'web-canary')?.metadata?.annotations;
    expect(annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/canary': 'true',
      'nginx.ingress.kubernetes.io/canary-weight': '0',
    });
    expect(await nginx.aborted(t)).toMatchObject({ done: true });
  });

  it('promotes as Flagger does: stable gets the canary pod spec and rolls out, then weight 0, then the canary scales to 0', async () => {
    const nginx = traffic.for('nginx-ingress');
    await nginx.advance(t, { weight: 20 });
    expect(await nginx.deployCanary(t, 'app', 'shop/web:2.0.0')).toBe('patched');
    await waitFor(async () => (await nginx.canaryReady(t)).done, { what: 'canary rolled out' });
    k8s.clearRequests();
    for (const action of nginx.promotion(t, 'app', 'shop/web:2.0.0')) {
      await waitFor(async () => (await action.run()).done, { what: action.name });
    }
    const weights = k8s
      .patches('Ingress', 'web-canary')
      .map(
        (p) =>
          (p.body as { metadata: { annotations: Record<string, string> } }).metadata.annotations[
            'nginx.ingress.kubernetes.io/canary-weight'
          ],
      );
    expect(weights).toEqual(['0']);
    expect(k8s.get('Deployment', NS, 'web')?.spec?.template.spec?.containers[0]?.image).toBe(
      'shop/web:2.0.0',
    );
    const canary = k8s.get('Deployment', NS, 'web-canary')!;
    expect(canary.spec?.replicas).toBe(0);
    expect(canary.metadata?.annotations?.['backout.dev/canary-replicas']).toBe('1');
    // The next canary scales it back to what it had; a canary at 0 replicas is never "ready".
    expect(await nginx.canaryReady(t)).toMatchObject({
      failed: expect.stringContaining('0 replicas') as unknown,
    });
    await nginx.deployCanary(t, 'app', 'shop/web:3.0.0');
    expect(k8s.get('Deployment', NS, 'web-canary')?.spec?.replicas).toBe(1);
  });

  it('reads canary-weight and canary-weight-total strictly, as ingress-nginx does ("20abc" is no weight at all)', async () => {
    const nginx = traffic.for('nginx-ingress');
    const cases: [Record<string, string>, number, string?][] = [
      [{ 'canary-weight': '20' }, 20],
      [{ 'canary-weight': '+20' }, 20],
      [{ 'canary-weight': '20abc' }, 0, 'canary-weight "20abc" is not an integer'],
      [{ 'canary-weight': ' 20' }, 0, 'not an integer'],
      [{ 'canary-weight': '2.5' }, 0, 'not an integer'],
      [{ 'canary-weight': '' }, 0, 'not an integer'],
      [{ 'canary-weight': '30', 'canary-weight-total': '300' }, 10],
      [{ 'canary-weight': '30', 'canary-weight-total': '50' }, 30],
      [{ 'canary-weight': '30', 'canary-weight-total': '300x' }, 0, 'canary-weight-total "300x"'],
    ];
    for (const [set, weight, note] of cases) {
      k8s.update('Ingress', NS, 'web-canary', (ing) => {
        const a: Record<string, string> = { 'nginx.ingress.kubernetes.io/canary': 'true' };
        for (const [k, v] of Object.entries(set)) a[`nginx.ingress.kubernetes.io/${k}`] = v;
        ing.metadata!.annotations = a;
      });
      const live = await nginx.read(t);
      expect([set, live.weight]).toEqual([set, weight]);
      if (note) expect(live.summary).toContain(note);
      else expect(live.summary).not.toContain('ignores');
    }
    // A total ingress-nginx cannot read would make any weight backout writes void: refused, nothing patched.
    k8s.clearRequests();
    await expect(nginx.advance(t, { weight: 5 })).rejects.toThrow(
      /canary-weight-total "300x".*backout set nothing/,
    );
    expect(k8s.patches('Ingress', 'web-canary')).toEqual([]);
    k8s.update('Ingress', NS, 'web-canary', (ing) => {
      ing.metadata!.annotations = {
        'nginx.ingress.kubernetes.io/canary': 'true',
        'nginx.ingress.kubernetes.io/canary-weight': '20abc',
      };
    });
    expect(await nginx.advance(t, { weight: 20 })).toBe('patched');
    expect(await nginx.observe(t, { weight: 20 })).toMatchObject({ done: true });
  });
});

describe('Gateway API HTTPRoute weights', () => {
  const t = target('gateway-api', 'api', 'api');
  beforeAll(() => {
    seedPair('api');
    k8s.addHttpRoute({
      metadata: { name: 'api', namespace: NS },
      spec: {
        parentRefs: [{ name: 'gateway' }],
        rules: [
          {
            backendRefs: [
              { name: 'api', port: 80 },
              { name: 'api-canary', port: 80, weight: 0 },
            ],
          },
        ],
      },
    });
  });

  it('tests each backend name, then replaces (or adds) its weight: canary w, stable 100 − w', async () => {
    const gw = traffic.for('gateway-api');
    expect(await gw.read(t)).toMatchObject({ weight: 0, idle: true });
    k8s.clearRequests();
    expect(await gw.advance(t, { weight: 5 })).toBe('patched');
    const [patch] = k8s.patches('HTTPRoute', 'api');
    expect(patch!.contentType).toContain('application/json-patch+json');
    expect(patch!.body).toEqual([
      { op: 'test', path: '/spec/rules/0/backendRefs/1/name', value: 'api-canary' },
      { op: 'replace', path: '/spec/rules/0/backendRefs/1/weight', value: 5 },
      { op: 'test', path: '/spec/rules/0/backendRefs/0/name', value: 'api' },
      { op: 'add', path: '/spec/rules/0/backendRefs/0/weight', value: 95 },
    ]);
    expect((await gw.read(t)).weight).toBe(5);
    expect(await gw.advance(t, { weight: 5 })).toBe('unchanged');
  });

  it('waits for the Gateway to observe the new generation and fails on ResolvedRefs=False', async () => {
    const gw = traffic.for('gateway-api');
    await gw.advance(t, { weight: 20 });
    const generation = k8s.get('HTTPRoute', NS, 'api')!.metadata!.generation!;
    const parents = (observed: number, resolved: 'True' | 'False') => [
      {
        parentRef: { name: 'gateway' },
        controllerName: 'example.com/gateway',
        conditions: [
          {
            type: 'Accepted',
            status: 'True',
            reason: 'Accepted',
            message: '',
            observedGeneration: observed,
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
          {
            type: 'ResolvedRefs',
            status: resolved,
            reason: resolved === 'True' ? 'ResolvedRefs' : 'BackendNotFound',
            message: resolved === 'True' ? '' : 'service "api-canary" not found',
            observedGeneration: observed,
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
      },
    ];
    k8s.update('HTTPRoute', NS, 'api', (r) => {
      r.status = { parents: parents(generation - 1, 'True') };
    });
    expect(await gw.observe(t, { weight: 20 })).toMatchObject({
      done: false,
      message: expect.stringContaining('observe generation') as unknown,
    });
    k8s.update('HTTPRoute', NS, 'api', (r) => {
      r.status = { parents: parents(generation, 'False') };
    });
    const refused = await gw.observe(t, { weight: 20 });
    expect(refused.failed).toContain('ResolvedRefs=False (BackendNotFound)');
    k8s.update('HTTPRoute', NS, 'api', (r) => {
      r.status = { parents: parents(generation, 'True') };
    });
    expect(await gw.observe(t, { weight: 20 })).toMatchObject({ done: true });
  });

  it('with a third backend, weights are relative to the total: the canary reaches its share and the third keeps its own', async () => {
    const gw = traffic.for('gateway-api');
    const route = (name: string, refs: { name: string; weight?: number }[]) =>
      k8s.addHttpRoute({
        metadata: { name, namespace: NS },
        spec: {
          parentRefs: [{ name: 'gateway' }],
          rules: [{ backendRefs: refs.map((r) => ({ ...r, port: 80 })) }],
        },
      });
    const share = (name: string) => {
      const refs = k8s.get('HTTPRoute', NS, name)!.spec.rules![0]!.backendRefs!;
      const total = refs.reduce((n, r) => n + (r.weight ?? 1), 0);
      return Object.fromEntries(refs.map((r) => [r.name, ((r.weight ?? 1) / total) * 100]));
    };
    route('three', [
      { name: 'api', weight: 80 },
      { name: 'api-canary', weight: 0 },
      { name: 'api-legacy', weight: 20 },
    ]);
    const three = { ...t, object: 'three' };
    for (const weight of [5, 20, 50, 0]) {
      await gw.advance(three, { weight });
      expect(await gw.observe(three, { weight })).toMatchObject({ done: true });
      expect((await gw.read(three)).weight).toBe(weight);
      const s = share('three');
      expect(s['api-legacy']).toBeCloseTo(20, 5);
      expect(s['api-canary']! / (s['api-canary']! + s.api!)).toBeCloseTo(weight / 100, 2);
    }
    // Default weights (1 each) leave no room for whole percents: the rule is scaled up, shares kept.
    route('defaults', [{ name: 'api' }, { name: 'api-canary', weight: 0 }, { name: 'api-legacy' }]);
    const defaults = { ...t, object: 'defaults' };
    await gw.advance(defaults, { weight: 5 });
    expect(await gw.observe(defaults, { weight: 5 })).toMatchObject({ done: true });
    expect(k8s.get('HTTPRoute', NS, 'defaults')!.spec.rules![0]!.backendRefs!.map((r) => r.weight)).toEqual([
      95, 5, 100,
    ]);
    expect(share('defaults')['api-legacy']).toBeCloseTo(50, 5);
  });

  it('refuses to patch a route whose backends were reordered since it was read (the test op fails)', async () => {
    const gw = traffic.for('gateway-api');
    k8s.failNext({
      method: 'PATCH',
      pathIncludes: '/httproutes/api',
      status: 422,
      message: 'the test operation failed',
    });
    await expect(gw.advance(t, { weight: 50 })).rejects.toThrow(/rejected the change/);
    expect((await gw.read(t)).weight).toBe(20);
  });
});

describe('Argo Rollouts, as the kubectl plugin patches them', () => {
  const t = target('argo-rollouts', 'shop', 'shop');
  const steps = [
    { setWeight: 5 },
    { pause: {} },
    { setWeight: 20 },
    { pause: {} },
    { setWeight: 50 },
    { pause: {} },
  ];
  beforeAll(() => {
    k8s.addRollout({
      metadata: { name: 'shop', namespace: NS },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: 'shop' } },
        template: {
          metadata: { labels: { app: 'shop' } },
          spec: { containers: [{ name: 'app', image: 'shop/shop:1.0.0' }] },
        },
        strategy: { canary: { canaryService: 'shop-canary', stableService: 'shop', steps } },
      },
    });
  });

  it('stops at each indefinite pause, at the setWeight in force there; a timed pause is the controller’s', () => {
    expect(rolloutStops({ spec: { strategy: { canary: { steps } } } })).toEqual([
      { weight: 5, stepIndex: 1 },
      { weight: 20, stepIndex: 3 },
      { weight: 50, stepIndex: 5 },
    ]);
    expect(
      rolloutStops({
        spec: {
          strategy: {
            canary: {
              steps: [{ setWeight: 10 }, { pause: { duration: '1m' } }, { setWeight: 40 }, { pause: {} }],
            },
          },
        },
      }),
    ).toEqual([{ weight: 40, stepIndex: 3 }]);
  });

  it('makes the plugin’s promote patches: unpause, clear pause conditions, step on, Inconclusive, --full', () => {
    const paused = {
      spec: { paused: true, strategy: { canary: { steps } } },
      status: {
        currentStepIndex: 1,
        pauseConditions: [{ reason: 'CanaryPauseStep' }],
        controllerPause: true,
      },
    };
    expect(promotePatches(paused, false)).toEqual({
      spec: { spec: { paused: false } },
      status: { status: { pauseConditions: null } },
      unified: { spec: { paused: false }, status: { pauseConditions: null } },
    });
    const midStep = { spec: { strategy: { canary: { steps } } }, status: { currentStepIndex: 2 } };
    expect(promotePatches(midStep, false).status).toEqual({
      status: { pauseConditions: null, currentStepIndex: 3 },
    });
    const inconclusive = {
      ...paused,
      spec: { strategy: { canary: { steps } } },
      status: { ...paused.status, canary: { currentStepAnalysisRunStatus: { status: 'Inconclusive' } } },
    };
    expect(promotePatches(inconclusive, false).status).toEqual({
      status: { pauseConditions: null, controllerPause: false, currentStepIndex: 2 },
    });
    expect(promotePatches({ status: { currentPodHash: 'a', stableRS: 'b' } }, true)).toEqual({
      status: { status: { promoteFull: true } },
      unified: { status: { promoteFull: true } },
    });
    expect(promotePatches({ status: { currentPodHash: 'a', stableRS: 'a' } }, true)).toEqual({});
  });

  it('sets the image, waits at 5 %, promotes to 20 % through the status subresource, aborts to stable', async () => {
    const argo = traffic.for('argo-rollouts');
    expect(await argo.read(t)).toMatchObject({ idle: true, weight: 0, stableImage: 'shop/shop:1.0.0' });
    const { stops } = await argo.stops(t, [5, 20, 50, 100]);
    k8s.clearRequests();
    expect(await argo.deployCanary(t, 'app', 'shop/shop:2.0.0')).toBe('patched');
    expect(await argo.canaryReady(t)).toMatchObject({ done: true });
    expect(await argo.advance(t, stops[0]!)).toBe('unchanged');
    expect(await argo.observe(t, stops[0]!)).toMatchObject({ done: true });
    expect(await argo.advance(t, stops[1]!)).toBe('patched');
    expect(await argo.advance(t, stops[1]!)).toBe('unchanged');
    expect(await argo.observe(t, stops[1]!)).toMatchObject({ done: true });
    const statusPatches = k8s.patches('Rollout', 'shop').filter((p) => p.resource?.subresource === 'status');
    expect(statusPatches.map((p) => [p.contentType, p.body])).toEqual([
      [expect.stringContaining('application/merge-patch+json'), { status: { pauseConditions: null } }],
    ]);
    expect(await argo.abort(t)).toBe('patched');
    expect(k8s.patches('Rollout', 'shop').at(-1)).toMatchObject({
      body: { status: { abort: true } },
      resource: { subresource: 'status' },
    });
    expect(await argo.aborted(t)).toMatchObject({ done: true });
    expect(await argo.abort(t)).toBe('unchanged');
    expect(await argo.read(t)).toMatchObject({ idle: true, weight: 0 });
  });

  it('falls back to the main resource when the status subresource answers 404, as the plugin does for v0.9', async () => {
    const argo = traffic.for('argo-rollouts');
    await argo.deployCanary(t, 'app', 'shop/shop:3.0.0');
    const { stops } = await argo.stops(t, [5, 20, 50, 100]);
    await waitFor(async () => (await argo.observe(t, stops[0]!)).done, { what: 'first pause' });
    k8s.clearRequests();
    k8s.failNext({ method: 'PATCH', pathIncludes: '/rollouts/shop/status', status: 404 });
    expect(await argo.advance(t, stops[1]!)).toBe('patched');
    const patches = k8s.patches('Rollout', 'shop');
    expect(patches.map((p) => [p.status, p.resource?.subresource ?? 'main', p.body])).toEqual([
      [404, 'status', { status: { pauseConditions: null } }],
      [200, 'main', { spec: { paused: false }, status: { pauseConditions: null } }],
    ]);
  });

  it('is not "fully promoted" before the controller observes a new template: abort waits for it, then really aborts', async () => {
    const argo = traffic.for('argo-rollouts');
    await argo.deployCanary(t, 'app', 'shop/shop:4.0.0');
    await waitFor(async () => (await argo.canaryReady(t)).done, { what: 'canary observed' });
    await argo.abort(t);
    await waitFor(async () => (await argo.aborted(t)).done, { what: 'aborted' });
    // A new template lands while the controller is behind: currentPodHash still equals stableRS.
    k8s.holdRollout(NS, 'shop', true);
    await argo.deployCanary(t, 'app', 'shop/shop:5.0.0');
    const ro = k8s.get('Rollout', NS, 'shop')!;
    expect(String(ro.status?.observedGeneration)).not.toBe(String(ro.metadata?.generation));
    expect(await argo.read(t)).toMatchObject({ idle: false });
    expect(await argo.canaryReady(t)).toMatchObject({ done: false });
    k8s.clearRequests();
    expect(await argo.abort(t)).toBe('waiting');
    expect(await argo.aborted(t)).toMatchObject({ done: false });
    expect(k8s.patches('Rollout', 'shop')).toEqual([]);
    k8s.holdRollout(NS, 'shop', false);
    expect(await argo.abort(t)).toBe('patched');
    const aborted = await argo.aborted(t);
    expect(aborted).toMatchObject({ done: true });
    expect(aborted.message).toContain('spec.template still names shop/shop:5.0.0');
  });

  it('refuses a Rollout without an indefinite pause: Argo would reach 100 % without the approval', async () => {
    k8s.addRollout({
      metadata: { name: 'nopause', namespace: NS },
      spec: {
        selector: { matchLabels: { app: 'nopause' } },
        template: {
          metadata: { labels: { app: 'nopause' } },
          spec: { containers: [{ name: 'app', image: 'x:1' }] },
        },
        strategy: { canary: { steps: [{ setWeight: 50 }, { pause: { duration: '30s' } }] } },
      },
    });
    await expect(
      traffic.for('argo-rollouts').stops(target('argo-rollouts', 'nopause', 'nopause'), [5, 100]),
    ).rejects.toThrow(/no indefinite `pause: \{\}` step/);
  });
});
