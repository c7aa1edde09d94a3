import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { createDeprecationMiddleware } from '../../src/api-retirement/middleware/index.js';
import { startRetirementProxy } from '../../src/api-retirement/proxy/server.js';
import { findCommand } from '../../src/cli/catalog.js';
import { parseProxyArgs } from '../../src/cli/proxy.js';
import { envSchema } from '../../src/config/env.js';
import { parseConfigText } from '../../src/config/load.js';

const ROOT = join(import.meta.dirname, '..', '..');
const EXAMPLE = join(ROOT, 'deploy', 'examples', 'proxy-sidecar');
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Deployment,
  Service,
  NetworkPolicy,
};

type Doc = Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string } };
interface Port {
  name: string;
  containerPort: number;
}
interface Probe {
  httpGet: { path: string; port: string | number };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; [other: string]: unknown };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  ports?: Port[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
}
interface DeploymentDoc {
  spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: Container[] } } };
}
interface ServiceDoc {
  metadata: { namespace: string };
  spec: {
    selector: Record<string, string>;
    ports: { name: string; port: number; targetPort: string | number }[];
  };
}

const rendered = new Map<string, Promise<Doc[]>>();
/** What `kubectl kustomize` renders for a directory (once each): what `kubectl apply -k` would send. */
function render(dir: string): Promise<Doc[]> {
  let docs = rendered.get(dir);
  if (!docs) rendered.set(dir, (docs = renderNow(dir)));
  return docs;
}

async function renderNow(dir: string): Promise<Doc[]> {
  const { stdout } = await promisify(execFile)('kubectl', ['kustomize', dir], { timeout: 30_000 }).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT')
        throw new Error('kubectl is not installed (Debian: apt-get install kubernetes-client)');
      throw err;
    },
  );
  return parseAllDocuments(stdout).map((d) => d.toJS() as Doc);
}

const one = (docs: Doc[], kind: string, name: string) => {
  const found = docs.find((d) => d.kind === kind && d.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};

async function example() {
  const docs = await render(EXAMPLE);
  const deployment = one(docs, 'Deployment', 'checkout-api') as unknown as DeploymentDoc;
  const containers = deployment.spec.template.spec.containers;
  // The sidecar is the container that runs the backout image; the app is every other one.
  const proxy = containers.find((c) => c.image.startsWith('ghcr.io/acme/backout:'));
  if (!proxy) throw new Error('no container runs the backout image');
  const apps = containers.filter((c) => c !== proxy);
  const service = one(docs, 'Service', 'checkout-api') as unknown as ServiceDoc;
  return { docs, deployment, proxy, apps, service };
}

/** `proxy` and the flags after it, as the real CLI reads them. */
function proxySettings(proxy: Container) {
  const args = proxy.args ?? [];
  const found = findCommand(args);
  expect(found?.command.name).toBe('proxy');
  return { settings: parseProxyArgs(found!.rest), rest: found!.rest };
}

/** The pod port a Service's targetPort or a probe's port means: a number, or a container port's name. */
const podPort = (containers: Container[], port: string | number) =>
  typeof port === 'number'
    ? port
    : containers.flatMap((c) => c.ports ?? []).find((p) => p.name === port)?.containerPort;

describe('deploy/examples/proxy-sidecar rendered with kubectl kustomize', () => {
  it('renders a Deployment, a Service and a NetworkPolicy, each valid against the Kubernetes schemas', async () => {
    const docs = await render(EXAMPLE);
    expect(docs.map((d) => d.kind).sort()).toEqual(['Deployment', 'NetworkPolicy', 'Service']);
    for (const doc of docs) {
      const Model = MODELS[doc.kind];
      expect(Model, `a model for ${doc.kind}`).toBeDefined();
      expect(() => new Model!(doc as never).validate(), `${doc.kind} ${doc.metadata.name}`).not.toThrow();
    }
  });

  it('the proxy command and its flags are ones `backout proxy` accepts', async () => {
    const { proxy } = await example();
    expect(proxy.args?.[0]).toBe('proxy');
    const { settings, rest } = proxySettings(proxy);
    expect(settings.service).toBe('checkout-api');
    expect(settings.upstream.href).toBe('http://127.0.0.1:8080/');
    expect(settings.listen).toEqual({ port: 8081 });
    expect(settings.admin).toEqual({ port: 9464 });
    // Every flag is one the catalog (help, completion) documents for `backout proxy`.
    const documented = new Set(findCommand(['proxy'])!.command.options.map((o) => o.flag));
    for (const flag of rest.filter((a) => a.startsWith('--'))) {
      expect(documented, flag).toContain(flag.split('=')[0]);
    }
  });

  it("--service names a service in backout's config (deploy/base/config.yaml)", async () => {
    const { proxy } = await example();
    const configMap = parse(await readFile(join(ROOT, 'deploy', 'base', 'config.yaml'), 'utf8')) as {
      data: Record<string, string>;
    };
    const config = parseConfigText(configMap.data['backout.yml']!);
    if (!config.ok) throw new Error(config.problems.join('\n'));
    expect([...config.config.services.keys()]).toContain(proxySettings(proxy).settings.service);
  });

  it("the Service sends every port to the proxy, never to the app; the app's port is the upstream, on localhost", async () => {
    const { deployment, proxy, apps, service } = await example();
    const { settings } = proxySettings(proxy);
    for (const [k, v] of Object.entries(service.spec.selector))
      expect(deployment.spec.template.metadata.labels[k]).toBe(v);
    expect(service.metadata.namespace).toBe('shop');
    const containers = deployment.spec.template.spec.containers;
    const proxyPorts = [settings.listen.port, settings.admin.port];
    for (const port of service.spec.ports) {
      expect(proxyPorts, `Service port ${port.name}`).toContain(podPort(containers, port.targetPort));
      if (typeof port.targetPort === 'string')
        expect(
          proxy.ports?.map((p) => p.name),
          `Service port ${port.name}`,
        ).toContain(port.targetPort);
    }
    const http = service.spec.ports.find((p) => p.name === 'http')!;
    expect(podPort(containers, http.targetPort)).toBe(settings.listen.port);
    expect(podPort(containers, http.targetPort)).not.toBe(Number(settings.upstream.port));
    // The kubelet cannot reach an app on 127.0.0.1: its HTTP probes go through the proxy.
    for (const app of apps)
      for (const probe of [app.readinessProbe, app.livenessProbe].filter((p) => p !== undefined))
        expect(podPort(containers, probe.httpGet.port), app.name).toBe(settings.listen.port);
    // The app is reached in the pod only: it declares no port and the upstream is loopback.
    expect(settings.upstream.hostname).toBe('127.0.0.1');
    for (const app of apps) expect(app.ports ?? []).toEqual([]);
    // The proxy's ports are named (the admin port serves /metrics).
    expect(proxy.ports?.find((p) => p.containerPort === settings.admin.port)?.name).toMatch(/metrics/);
    expect(proxy.ports?.find((p) => p.containerPort === settings.listen.port)?.name).toBeTruthy();
  });

  it("the probes ask the proxy's admin port for /healthz, which answers 200 even with Redis away", async () => {
    const { proxy } = await example();
    const { settings } = proxySettings(proxy);
    const probes = [proxy.readinessProbe, proxy.livenessProbe];
    for (const probe of probes) {
      expect(probe?.httpGet.path).toBe('/healthz');
      expect(podPort([proxy], probe!.httpGet.port)).toBe(settings.admin.port);
    }
    // The real proxy, with the manifest's flags (on free ports) and a Redis that refuses connections.
    const middleware = createDeprecationMiddleware({
      redis: 'redis://127.0.0.1:1',
      service: settings.service,
      onError: () => undefined,
    });
    const running = await startRetirementProxy({
      middleware,
      service: settings.service,
      upstream: settings.upstream,
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      upstreamTimeoutMs: settings.upstreamTimeoutMs,
      connectTimeoutMs: settings.connectTimeoutMs,
    });
    try {
      for (const probe of probes) {
        const res = await fetch(`http://127.0.0.1:${running.adminPort}${probe!.httpGet.path}`);
        expect(res.status).toBe(200);
      }
      const metrics = await fetch(`http://127.0.0.1:${running.adminPort}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('backout_proxy_requests_total');
    } finally {
      await running.close();
      await middleware.close();
    }
  });

  it('no Secret is rendered: every credential comes from a secretKeyRef, and the URL holds none', async () => {
    const { docs, deployment } = await example();
    expect(docs.some((d) => d.kind === 'Secret')).toBe(false);
    for (const container of deployment.spec.template.spec.containers) {
      for (const variable of container.env ?? []) {
        if (variable.valueFrom)
          expect(Object.keys(variable.valueFrom), variable.name).toEqual(['secretKeyRef']);
        if (/PASSWORD|SECRET|TOKEN|KEY/.test(variable.name))
          expect(variable.valueFrom?.secretKeyRef, variable.name).toBeDefined();
      }
    }
  });

  it('Redis: REDIS_URL as a dedicated ACL user, its password expanded from a Secret; the prefix is backout’s', async () => {
    const { proxy } = await example();
    const env = proxy.env ?? [];
    const names = env.map((e) => e.name);
    // `backout proxy` reads REDIS_URL only: the Sentinel and Cluster variables would be ignored.
    expect(names.filter((n) => /^REDIS_(SENTINEL|CLUSTER|USERNAME|PASSWORD|TLS)/.test(n))).toEqual([]);
    const url = env.find((e) => e.name === 'REDIS_URL')?.value;
    expect(url).toBeDefined();
    const parsed = new URL(url!);
    // A user of its own (`backout redis-acl middleware --user …`), not the default user.
    expect(decodeURIComponent(parsed.username)).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(parsed.username).not.toBe('default');
    // The password is $(VAR), a variable defined before REDIS_URL from a Secret (Kubernetes expands
    // only variables defined earlier).
    const variable = /^\$\((\w+)\)$/.exec(decodeURIComponent(parsed.password))?.[1];
    expect(variable).toBeDefined();
    expect(names.indexOf(variable!)).toBeGreaterThanOrEqual(0);
    expect(names.indexOf(variable!)).toBeLessThan(names.indexOf('REDIS_URL'));
    expect(env.find((e) => e.name === variable)?.valueFrom?.secretKeyRef).toBeDefined();
    // What the proxy does with it once expanded: the same rules as the server.
    expect(envSchema.shape.REDIS_URL.safeParse(url!.replace(`$(${variable})`, 'x')).success).toBe(true);
    const prefix = env.find((e) => e.name === 'BACKOUT_PREFIX')?.value;
    expect(envSchema.shape.BACKOUT_PREFIX.safeParse(prefix).success).toBe(true);
    // deploy/overlays/single-redis leaves BACKOUT_PREFIX at its default: the proxy must read the same keys.
    expect(prefix).toBe(envSchema.shape.BACKOUT_PREFIX.parse(undefined));
  });

  it("the Redis it names is the single-redis overlay's, and the NetworkPolicy lets this pod reach it", async () => {
    const { docs, deployment, proxy } = await example();
    const url = new URL(proxy.env!.find((e) => e.name === 'REDIS_URL')!.value!);
    const [serviceName, namespace] = url.hostname.split('.');
    const overlay = await render(join(ROOT, 'deploy', 'overlays', 'single-redis'));
    const redisService = one(overlay, 'Service', serviceName!) as unknown as ServiceDoc;
    expect(redisService.metadata.namespace).toBe(namespace);
    expect(redisService.spec.ports.map((p) => p.port)).toContain(Number(url.port));
    const redisPods = (one(overlay, 'StatefulSet', serviceName!) as unknown as DeploymentDoc).spec.template
      .metadata.labels;

    const policy = one(docs, 'NetworkPolicy', 'backout-redis-from-checkout-api') as unknown as {
      metadata: { namespace: string };
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        ingress: {
          from: {
            namespaceSelector: { matchLabels: Record<string, string> };
            podSelector: { matchLabels: Record<string, string> };
          }[];
          ports: { port: number }[];
        }[];
      };
    };
    expect(policy.metadata.namespace).toBe(namespace);
    for (const [k, v] of Object.entries(policy.spec.podSelector.matchLabels)) expect(redisPods[k]).toBe(v);
    const [rule] = policy.spec.ingress;
    expect(rule!.ports.map((p) => p.port)).toEqual([Number(url.port)]);
    const [from] = rule!.from;
    expect(from!.namespaceSelector.matchLabels).toEqual({ 'kubernetes.io/metadata.name': 'shop' });
    for (const [k, v] of Object.entries(from!.podSelector.matchLabels))
      expect(deployment.spec.template.metadata.labels[k]).toBe(v);
  });

  it('the sidecar runs as non-root, read-only, without capabilities, within its resources', async () => {
    const { proxy } = await example();
    const security = proxy.securityContext;
    expect(security?.runAsNonRoot).toBe(true);
    // The image's USER is a name (`node`): without a number the kubelet refuses runAsNonRoot.
    expect(security?.runAsUser).toBeGreaterThan(0);
    expect(security?.readOnlyRootFilesystem).toBe(true);
    expect(security?.allowPrivilegeEscalation).toBe(false);
    expect(security?.capabilities?.drop).toEqual(['ALL']);
    expect(security?.capabilities?.add).toBeUndefined();
    expect(proxy.resources?.requests?.cpu).toBeTruthy();
    expect(proxy.resources?.requests?.memory).toBeTruthy();
    expect(proxy.resources?.limits?.memory).toBeTruthy();
  });

  it('the backout image is the one deploy/base pins, by digest', async () => {
    const { proxy } = await example();
    const images = async (dir: string) =>
      (
        parse(await readFile(join(dir, 'kustomization.yaml'), 'utf8')) as {
          images: { name: string; newTag: string; digest: string }[];
        }
      ).images;
    const [base] = (await images(join(ROOT, 'deploy', 'base'))).filter(
      (i) => i.name === 'ghcr.io/acme/backout',
    );
    const [mine] = (await images(EXAMPLE)).filter((i) => i.name === 'ghcr.io/acme/backout');
    // Pin both when releasing (deploy/README.md, "Pin the image").
    expect(mine).toEqual(base);
    expect(proxy.image).toBe(`${base!.name}:${base!.newTag}@${base!.digest}`);
    expect(proxy.image).toMatch(/^ghcr\.io\/acme\/backout:[\w.-]+@sha256:[0-9a-f]{64}$/);
  });
});
