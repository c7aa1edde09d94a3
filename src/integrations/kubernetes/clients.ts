import type {
  AppsV1Api,
  AuthorizationV1Api,
  BatchV1Api,
  Configuration,
  ConfigurationOptions,
  CustomObjectsApi,
  KubeConfig,
  NetworkingV1Api,
  VersionApi,
} from '@kubernetes/client-node';
import type * as KubeLibrary from '@kubernetes/client-node';
import { delimiter } from 'node:path';
import { BackoutError, IntegrationError } from '../../errors.js';
import { readKubeconfigFiles, type KubeconfigView } from './kubeconfig-file.js';
import { poolConnections } from './pooled-dispatcher.js';

type Library = typeof KubeLibrary;

let library: Promise<Library> | undefined;
let loadedLibrary: Library | undefined;

/**
 * The Kubernetes client library, loaded on first use: it is about 40 MB resident, and a web
 * process needs it only when a command reads a cluster.
 */
export function kubeLibrary(): Promise<Library> {
  return (library ??= import('@kubernetes/client-node').then((lib) => (loadedLibrary = lib)));
}

/**
 * Call options that send a patch body as `strategy`. Used in a call on the APIs `KubeClients.for`
 * returned, so the library is loaded by then.
 */
export function patchAs(strategy: PatchStrategy): ConfigurationOptions {
  if (!loadedLibrary) throw new Error('patchAs called before the Kubernetes client library was loaded');
  return loadedLibrary.setHeaderOptions('Content-Type', strategy);
}

/** Content types of the patch flavours backout sends (client-node's PatchStrategy values). */
export const PatchStrategy = {
  JsonPatch: 'application/json-patch+json',
  MergePatch: 'application/merge-patch+json',
  StrategicMergePatch: 'application/strategic-merge-patch+json',
} as const;
export type PatchStrategy = (typeof PatchStrategy)[keyof typeof PatchStrategy];

export interface KubeApis {
  apps: AppsV1Api;
  custom: CustomObjectsApi;
  networking: NetworkingV1Api;
  authorization: AuthorizationV1Api;
  batch: BatchV1Api;
  version: VersionApi;
}

interface Loaded {
  lib: Library;
  base: KubeConfig;
}

/** How long one Kubernetes API call may take, connecting and reading the body included. */
export const KUBE_CALL_TIMEOUT_MS = 15_000;

/**
 * One set of API clients per kubeconfig context, built lazily from one KubeConfig load
 * (KUBECONFIG, as kubectl reads it: a path or a list of paths). The library and the kubeconfig
 * are loaded on first use (`load`, or the first call that needs them). Every call carries a
 * deadline: client-node has no timeout of its own, so a middleware gives each request an
 * AbortSignal that cancels it (socket and all) when the deadline passes.
 */
export class KubeClients {
  private readonly byContext = new Map<string, KubeApis>();
  private loaded: Promise<Loaded> | undefined;

  /**
   * `kubeconfig`: the KUBECONFIG value (one path or several joined by ":"); absent: ~/.kube/config or
   * in-cluster. Loading refuses a kubeconfig that would send credentials over plain http (see
   * `plainHttpCredentials`). `onLoad` is told once the kubeconfig is read.
   */
  constructor(
    private readonly kubeconfig?: string,
    readonly callTimeoutMs = KUBE_CALL_TIMEOUT_MS,
    private readonly onLoad?: (clients: KubeClients) => void,
  ) {}

  /** Loads the library and the kubeconfig (once); rejects with a config error on credentials over http. */
  load(): Promise<Loaded> {
    return (this.loaded ??= (async () => {
      const lib = await kubeLibrary();
      const base = loadKubeconfig(lib, this.kubeconfig);
      const problems = plainHttpCredentials(base);
      if (problems.length > 0) throw new BackoutError('config', problems.join('\n'));
      return { lib, base };
    })().then((loaded) => {
      this.onLoad?.(this);
      return loaded;
    }));
  }

  async contexts(): Promise<string[]> {
    return (await this.load()).base.getContexts().map((c) => c.name);
  }

  /** The namespace a context names (kubectl's default namespace for it), if any. */
  async namespaceOf(context: string): Promise<string | undefined> {
    return (await this.load()).base.getContextObject(context)?.namespace;
  }

  /** The API server URL of a context's cluster. */
  async serverOf(context: string): Promise<string | undefined> {
    const { base } = await this.load();
    const ctx = base.getContextObject(context);
    return ctx ? base.getCluster(ctx.cluster)?.server : undefined;
  }

  async currentContext(): Promise<string | undefined> {
    return (await this.load()).base.getCurrentContext() || undefined;
  }

  async for(context: string): Promise<KubeApis> {
    const cached = this.byContext.get(context);
    if (cached) return cached;
    const { lib, base } = await this.load();
    const again = this.byContext.get(context);
    if (again) return again;
    if (!base.getContextObject(context)) {
      throw new IntegrationError('kubernetes', `The kubeconfig has no context named "${context}".`, {
        retryable: false,
        hint: `Contexts available: ${
          base
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        }. Check KUBECONFIG and the service's kubernetes.context.`,
      });
    }
    const kc = new lib.KubeConfig();
    kc.loadFromString(base.exportConfig());
    kc.setCurrentContext(context);
    poolConnections(kc);
    const config = withDeadline(lib, kc, this.callTimeoutMs);
    const apis: KubeApis = {
      apps: new lib.AppsV1Api(config),
      custom: new lib.CustomObjectsApi(config),
      networking: new lib.NetworkingV1Api(config),
      authorization: new lib.AuthorizationV1Api(config),
      batch: new lib.BatchV1Api(config),
      version: new lib.VersionApi(config),
    };
    this.byContext.set(context, apis);
    return apis;
  }
}

/** What `kc.makeApiClient` builds, plus a deadline on every request. */
function withDeadline(lib: Library, kc: KubeConfig, timeoutMs: number): Configuration {
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new IntegrationError('kubernetes', 'The kubeconfig context names no cluster.', {
      retryable: false,
    });
  return lib.createConfiguration({
    baseServer: new lib.ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [
      {
        pre: (ctx) => {
          ctx.setHeaderParam('User-Agent', 'backout');
          ctx.setSignal(AbortSignal.timeout(timeoutMs));
          return Promise.resolve(ctx);
        },
        post: (res) => Promise.resolve(res),
      },
    ],
  });
}

function loadKubeconfig(lib: Library, kubeconfig: string | undefined): KubeConfig {
  const kc = new lib.KubeConfig();
  const paths = (kubeconfig ?? '').split(delimiter).filter(Boolean);
  if (paths.length === 0) {
    kc.loadFromDefault();
    return kc;
  }
  kc.loadFromFile(paths[0]!);
  for (const path of paths.slice(1)) {
    const next = new lib.KubeConfig();
    next.loadFromFile(path);
    kc.mergeConfig(next, true);
  }
  return kc;
}

/**
 * Contexts whose user carries credentials (a bearer token, basic auth, a client certificate, an
 * exec or auth-provider plugin) for an `http://` server: anyone on the path could read and replay
 * them, so, like kubectl, backout refuses to start with them. One problem per context, with the fix.
 */
export function plainHttpCredentials(kc: KubeconfigView): string[] {
  const problems: string[] = [];
  for (const ctx of kc.getContexts()) {
    const cluster = kc.getCluster(ctx.cluster);
    const user = kc.getUser(ctx.user);
    if (!cluster || !user || !cluster.server.toLowerCase().startsWith('http://')) continue;
    const kinds = [
      user.token ? 'a bearer token' : '',
      user.username || user.password ? 'basic auth' : '',
      user.certData || user.certFile ? 'a client certificate' : '',
      user.exec ? 'an exec credential plugin' : '',
      user.authProvider ? 'an auth provider' : '',
    ].filter(Boolean);
    if (kinds.length === 0) continue;
    problems.push(
      `kubeconfig context "${ctx.name}" would send ${kinds.join(' and ')} to ${cluster.server} over plain http, which kubectl also refuses. ` +
        `Fix: point cluster "${ctx.cluster}" at its https:// address (with certificate-authority-data), or drop the credentials for a local unauthenticated endpoint such as \`kubectl proxy\`.`,
    );
  }
  return problems;
}

/** The files a KUBECONFIG value names (one path, or several joined as the platform joins paths). */
export function kubeconfigPaths(kubeconfig: string | undefined): string[] {
  return (kubeconfig ?? '').split(delimiter).filter(Boolean);
}

/**
 * Start-up problems of the kubeconfig files KUBECONFIG names (credentials over http), read as
 * plain YAML so that start-up does not load the client library.
 */
export function kubeconfigProblems(kubeconfig: string | undefined): string[] {
  try {
    return plainHttpCredentials(readKubeconfigFiles(kubeconfigPaths(kubeconfig)));
  } catch (err) {
    return [`the kubeconfig could not be read: ${err instanceof Error ? err.message : String(err)}`];
  }
}
