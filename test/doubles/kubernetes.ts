// A Kubernetes API server double for tests: a real HTTP(S) server on 127.0.0.1 serving apps/v1
// Deployments and ReplicaSets, Argo Rollouts, Ingresses, Gateway API HTTPRoutes, Argo CD Applications
// and Flux Kustomizations/HelmReleases, with managedFields,
// resourceVersion bookkeeping, 409 conflicts, JSON/merge/strategic patches, schema validation through
// kubernetes-models, a minimal Deployment controller and a minimal Argo Rollouts controller.
// One instance stands for one cluster. Helpers live in ./kubernetes/.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

import { AccessRules, type DenyRule } from './kubernetes/access.js';
import { DeploymentController, type RolloutBehaviour } from './kubernetes/deployments.js';
import { clone } from './kubernetes/json.js';
import { managerFromUserAgent } from './kubernetes/managed-fields.js';
import { resourceByName, type KObject, type Kind, type KindMap } from './kubernetes/resources.js';
import { RestApi, parseResourcePath, type ResourceRoute } from './kubernetes/rest.js';
import { RolloutController } from './kubernetes/rollouts.js';
import {
  normalizeRolloutSeed,
  normalizeSeed,
  seedDeployment,
  type DeploymentSeed,
} from './kubernetes/seed.js';
import { ApiError, conflict } from './kubernetes/status.js';
import { ObjectStore, type StoreEvent } from './kubernetes/store.js';
import { serveWatch } from './kubernetes/watch.js';
import { testCertificates } from './tls.js';

export type { DenyRule, DeploymentSeed, Kind, KindMap, RolloutBehaviour };
export type { ManagedFieldsEntry } from './kubernetes/managed-fields.js';
export type { ContainerSeed } from './kubernetes/seed.js';
export type { Status } from './kubernetes/status.js';
export type { StoreEvent } from './kubernetes/store.js';

export interface RequestRecord {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  /** Parsed JSON body (the raw text when it is not JSON), undefined when empty. */
  body: unknown;
  status: number;
  /** Epoch milliseconds when the request arrived. */
  at: number;
  /** Bearer token presented, if any. */
  token?: string;
  /** The field manager a write is recorded under (`fieldManager`, else the User-Agent's product). */
  manager: string;
  /** The served resource the path addresses, if any. */
  resource?: {
    kind: Kind;
    group: string;
    version: string;
    plural: string;
    namespace?: string;
    name?: string;
    subresource?: string;
  };
}

export interface Fault {
  /** HTTP method to match (any when omitted). */
  method?: string;
  /** Substring of the request path to match (any when omitted). */
  pathIncludes?: string;
  /** HTTP status to answer, with the matching Status reason (409 Conflict, 500 InternalError, …). */
  status: number;
  /** How many matching requests fail (default 1). */
  count?: number;
  message?: string;
}

/** Seeding input for a kind: the object without apiVersion/kind requirements; namespace defaults to `default`. */
export type Seed<T extends { apiVersion: string; kind: string }> = Omit<T, 'apiVersion' | 'kind'> &
  Partial<Pick<T, 'apiVersion' | 'kind'>>;

const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version']);

function defaultFaultMessage(status: number, route: ResourceRoute | undefined): ApiError {
  const r = route?.name
    ? { plural: route.type.plural, group: route.type.group, name: route.name }
    : undefined;
  if (status === 409 && r) return conflict(r);
  const messages: Record<number, string> = {
    404: 'the server could not find the requested resource',
    429: 'Too many requests, please try again later.',
    500: 'Internal error occurred: injected fault',
    503: 'the server is currently unable to handle the request',
    504: 'the server was unable to return a response in the time allotted, but may still be processing the request',
  };
  return new ApiError(status, messages[status] ?? `injected fault ${status}`);
}

export class KubernetesDouble {
  /** Label for this cluster in test output (e.g. `prod`). */
  readonly name: string;
  /** Every request, in arrival order. */
  readonly requests: RequestRecord[] = [];
  /** TCP connections accepted so far (a client that reuses its connections opens few). */
  connectionsOpened = 0;

  private readonly store = new ObjectStore();
  private readonly access = new AccessRules();
  private readonly deployments: DeploymentController;
  private readonly rollouts: RolloutController;
  private readonly rest: RestApi;
  private readonly server: Server;
  private readonly watches = new Set<() => void>();
  private faults: (Fault & { remaining: number })[] = [];
  private hooks: { match: Omit<Fault, 'status' | 'count' | 'message'>; run: () => void }[] = [];
  private validTokens: Set<string> | undefined;
  private baseUrl = '';

  /** The CA (PEM) that signed the server's certificate, when started with `tls`. */
  readonly caPem: string | undefined;

  private constructor(opts: { name?: string; tickMs?: number; tls?: boolean }) {
    this.name = opts.name ?? 'cluster';
    this.deployments = new DeploymentController(this.store, opts.tickMs ?? 50);
    this.rollouts = new RolloutController(this.store);
    this.rest = new RestApi(this.store, this.access, (route) =>
      this.afterWrite(route.type.kind, route.namespace, route.name),
    );
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      void this.onRequest(req, res);
    };
    if (opts.tls) {
      const certs = testCertificates();
      this.caPem = certs.caPem;
      this.server = createTlsServer({ cert: certs.certPem, key: certs.keyPem }, handler);
    } else {
      this.caPem = undefined;
      this.server = createServer(handler);
    }
  }

  /**
   * Starts a double on 127.0.0.1 with an ephemeral port. `tickMs` is the controllers' default tick
   * (50 ms). `tls`: serve HTTPS with a certificate for 127.0.0.1 signed by the test CA (`caPem`).
   */
  static async start(
    opts: { name?: string; tickMs?: number; tls?: boolean } = {},
  ): Promise<KubernetesDouble> {
    const double = new KubernetesDouble(opts);
    await new Promise<void>((resolve, reject) => {
      double.server.once('error', reject);
      double.server.listen(0, '127.0.0.1', () => resolve());
    });
    double.server.on('connection', () => (double.connectionsOpened += 1));
    const { port } = double.server.address() as AddressInfo;
    double.baseUrl = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return double;
  }

  /** Base URL, e.g. `http://127.0.0.1:40123` (use it as the kubeconfig cluster server). */
  get url(): string {
    return this.baseUrl;
  }

  /** The current global resourceVersion. */
  get resourceVersion(): string {
    return this.store.resourceVersion;
  }

  async stop(): Promise<void> {
    this.deployments.stop();
    this.rollouts.stop();
    for (const close of [...this.watches]) close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // -- auth, authorization, faults, log ----------------------------------------------------------

  /** Only these bearer tokens are accepted from now on; `undefined` accepts any (the default). */
  setValidTokens(tokens: string[] | undefined): void {
    this.validTokens = tokens ? new Set(tokens) : undefined;
  }

  /** Denies matching requests (403) and SelfSubjectAccessReviews (`allowed: false`). */
  deny(rule: DenyRule): void {
    this.access.deny(rule);
  }

  /** Removes all deny rules. */
  allowAll(): void {
    this.access.clear();
  }

  /** The next `count` (default 1) requests matching method and path fail with `status`, without effect. */
  failNext(fault: Fault): void {
    this.faults.push({ ...fault, remaining: fault.count ?? 1 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /**
   * Runs `run` once, just before the next request matching method and path is served: a write by
   * someone else that lands between a client's last read and its write.
   */
  beforeNext(match: { method?: string; pathIncludes?: string }, run: () => void): void {
    this.hooks.push({ match, run });
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /** PATCH requests, optionally for one kind (`Deployment`, `rollouts`, …) and object name. */
  patches(kind?: string, name?: string): RequestRecord[] {
    const type = kind === undefined ? undefined : resourceByName(kind);
    if (kind !== undefined && !type) throw new Error(`unknown kind ${kind}`);
    return this.requests.filter(
      (r) =>
        r.method === 'PATCH' &&
        (type === undefined || r.resource?.kind === type.kind) &&
        (name === undefined || r.resource?.name === name),
    );
  }

  // -- seeding and direct access -----------------------------------------------------------------

  /** Creates a Deployment with one ReplicaSet per revision in `containers` (oldest first), fully rolled out. */
  addDeployment(seed: DeploymentSeed): KindMap['Deployment'] {
    return seedDeployment(this.store, this.deployments, seed) as unknown as KindMap['Deployment'];
  }

  /**
   * Creates a Rollout. Without a status it is fully promoted at its template (phase Healthy). A status
   * may use placeholder hashes: `{currentPodHash: 'canary', stableRS: 'stable', currentStepIndex: 1}`
   * seeds a canary in progress at step 1 (the controller then runs from there).
   */
  addRollout(obj: Seed<KindMap['Rollout']>): KindMap['Rollout'] {
    const seeded = this.store.create('Rollout', normalizeRolloutSeed(normalizeSeed('Rollout', obj)));
    this.rollouts.reconcile(seeded.metadata.namespace, seeded.metadata.name);
    return this.get('Rollout', seeded.metadata.namespace, seeded.metadata.name)!;
  }

  addIngress(obj: Seed<KindMap['Ingress']>): KindMap['Ingress'] {
    return this.store.create('Ingress', normalizeSeed('Ingress', obj)) as unknown as KindMap['Ingress'];
  }

  addHttpRoute(obj: Seed<KindMap['HTTPRoute']>): KindMap['HTTPRoute'] {
    return this.store.create('HTTPRoute', normalizeSeed('HTTPRoute', obj)) as unknown as KindMap['HTTPRoute'];
  }

  /** Creates a custom resource without a published schema: an Argo CD Application, a Flux Kustomization or HelmRelease. */
  addCustom<K extends 'Application' | 'Kustomization' | 'HelmRelease'>(
    kind: K,
    obj: Seed<KindMap[K]>,
  ): KindMap[K] {
    return this.store.create(kind, normalizeSeed(kind, obj)) as unknown as KindMap[K];
  }

  addCronJob(obj: Seed<KindMap['CronJob']>): KindMap['CronJob'] {
    return this.store.create('CronJob', normalizeSeed('CronJob', obj)) as unknown as KindMap['CronJob'];
  }

  /** A `core.openfeature.dev/v1beta1` FeatureFlag, validated against the CRD's schema. */
  addFeatureFlag(obj: Seed<KindMap['FeatureFlag']>): KindMap['FeatureFlag'] {
    return this.store.create(
      'FeatureFlag',
      normalizeSeed('FeatureFlag', obj),
    ) as unknown as KindMap['FeatureFlag'];
  }

  get<K extends Kind>(kind: K, namespace: string, name: string): KindMap[K] | undefined {
    return this.store.get(kind, namespace, name) as unknown as KindMap[K] | undefined;
  }

  list<K extends Kind>(kind: K, namespace?: string): KindMap[K][] {
    return this.store.list(kind, namespace) as unknown as KindMap[K][];
  }

  /**
   * Changes an object behind the bot's back (spec, metadata and status alike), through the same
   * bookkeeping and validation as API writes; the controllers then react as to any other write.
   * With `manager`, the write is recorded in managedFields under that name (`argocd-controller`, …).
   */
  update<K extends Kind>(
    kind: K,
    namespace: string,
    name: string,
    mutate: (obj: KindMap[K]) => KindMap[K] | void,
    opts: { manager?: string } = {},
  ): KindMap[K] {
    const current = this.store.get(kind, namespace, name);
    if (!current) throw new Error(`${kind} ${namespace}/${name} not found`);
    const draft = clone(current) as unknown as KindMap[K];
    const result = (mutate(draft) ?? draft) as unknown as KObject;
    this.store.replace(
      kind,
      { ...result, metadata: { ...result.metadata, name, namespace } },
      opts.manager ? { manager: opts.manager } : {},
    );
    this.afterWrite(kind, namespace, name);
    return this.get(kind, namespace, name)!;
  }

  /** Deletes an object (a Deployment's ReplicaSets go with it). Returns whether it existed. */
  remove(kind: Kind, namespace: string, name: string): boolean {
    const existed = this.store.remove(kind, namespace, name) !== undefined;
    this.afterWrite(kind, namespace, name);
    return existed;
  }

  /**
   * Stops the Argo Rollouts controller from reconciling this Rollout (`true`) until released
   * (`false`, which reconciles at once): writes land, but status is not observed meanwhile.
   */
  holdRollout(namespace: string, name: string, held: boolean): void {
    this.rollouts.hold(namespace, name, held);
  }

  /** How the Deployment's rollouts proceed from now on: converge (default) or stall. Sticky until changed. */
  setRollout(namespace: string, name: string, behaviour: RolloutBehaviour): void {
    this.deployments.setBehaviour(namespace, name, behaviour);
  }

  /** Calls `listener` synchronously on every stored change, as watches see it; returns the unsubscribe. */
  onChange(listener: (event: StoreEvent) => void): () => void {
    return this.store.subscribe(listener);
  }

  // -- internals ---------------------------------------------------------------------------------

  private afterWrite(kind: Kind, namespace: string, name: string): void {
    const exists = this.store.get(kind, namespace, name) !== undefined;
    if (kind === 'Deployment' && exists) this.deployments.observe(namespace, name);
    if (kind === 'Deployment' && !exists) {
      for (const rs of this.store.list('ReplicaSet', namespace)) {
        if (
          rs.metadata.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === name && o.controller)
        ) {
          this.store.remove('ReplicaSet', namespace, rs.metadata.name);
        }
      }
    }
    if (kind === 'Rollout' && exists) this.rollouts.reconcile(namespace, name);
  }

  private runHooks(method: string, path: string): void {
    const matches = (m: { method?: string; pathIncludes?: string }) =>
      (m.method === undefined || m.method.toUpperCase() === method) &&
      (m.pathIncludes === undefined || path.includes(m.pathIncludes));
    const due = this.hooks.filter((h) => matches(h.match));
    this.hooks = this.hooks.filter((h) => !due.includes(h));
    for (const hook of due) hook.run();
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const fault = this.faults.find(
      (f) =>
        f.remaining > 0 &&
        (f.method === undefined || f.method.toUpperCase() === method) &&
        (f.pathIncludes === undefined || path.includes(f.pathIncludes)),
    );
    if (fault) fault.remaining--;
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return fault;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://double.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    const query = Object.fromEntries(url.searchParams);
    const contentType = req.headers['content-type'];
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
    const route = parseResourcePath(path);
    const record: RequestRecord = {
      method,
      path,
      query,
      contentType,
      body: undefined,
      status: 0,
      at: Date.now(),
      manager: query.fieldManager || managerFromUserAgent(req.headers['user-agent']),
      ...(token !== undefined ? { token } : {}),
    };
    if (route) {
      const { type, namespace, name, subresource } = route;
      record.resource = {
        kind: type.kind,
        group: type.group,
        version: type.version,
        plural: type.plural,
        namespace,
        name,
        subresource,
      };
    }
    this.requests.push(record);

    let status: number;
    let body: unknown;
    let headers: Record<string, string> = {};
    try {
      const text = await readBody(req);
      if (text !== '') {
        try {
          record.body = JSON.parse(text);
        } catch (err) {
          record.body = text;
          if (!contentType?.includes('yaml')) {
            throw new ApiError(
              400,
              `couldn't get version/kind; json parse error: ${err instanceof Error ? err.message : String(err)}`,
            );
          }
        }
      }
      if (
        this.validTokens &&
        (token === undefined ? !PUBLIC_PATHS.has(path) : !this.validTokens.has(token))
      ) {
        throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      }
      const fault = this.takeFault(method, path);
      if (fault) {
        const error = defaultFaultMessage(fault.status, route);
        throw fault.message !== undefined
          ? new ApiError(fault.status, fault.message, error.status.reason, error.status.details)
          : error;
      }
      this.runHooks(method, path);
      const reply = this.rest.handle(method, path, query, contentType, record.body, record.manager);
      if ('watch' in reply) {
        record.status = 200;
        serveWatch(res, this.store, reply.watch, (close) => {
          this.watches.add(close);
          return () => this.watches.delete(close);
        });
        return;
      }
      ({ status, body } = reply);
      headers = reply.headers ?? {};
    } catch (err) {
      const apiError =
        err instanceof ApiError
          ? err
          : new ApiError(500, `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`);
      status = apiError.code;
      body = apiError.status;
      if (status === 429 || status === 503) headers['Retry-After'] = '1';
    }
    record.status = status;
    const isText = typeof body === 'string';
    res.writeHead(status, {
      'Content-Type': isText ? 'text/plain; charset=utf-8' : 'application/json',
      ...headers,
    });
    res.end(isText ? body : JSON.stringify(body));
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
