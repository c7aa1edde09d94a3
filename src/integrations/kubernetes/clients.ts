import {
  AppsV1Api,
  AuthorizationV1Api,
  createConfiguration,
  BatchV1Api,
  CustomObjectsApi,
  KubeConfig,
  NetworkingV1Api,
  ServerConfiguration,
  VersionApi,
  type Configuration,
} from '@kubernetes/client-node';
import { delimiter } from 'node:path';
import { BackoutError, IntegrationError } from '../../errors.js';

export interface KubeApis {
  apps: AppsV1Api;
  custom: CustomObjectsApi;
  networking: NetworkingV1Api;
  authorization: AuthorizationV1Api;
  batch: BatchV1Api;
  version: VersionApi;
}

/** How long one Kubernetes API call may take, connecting and reading the body included. */
export const KUBE_CALL_TIMEOUT_MS = 15_000;

/**
 * One set of API clients per kubeconfig context, built lazily from one KubeConfig load
 * (KUBECONFIG, as kubectl reads it: a path or a list of paths). Every call carries a
 * deadline: client-node has no timeout of its own, so a middleware gives each request an
 * AbortSignal that cancels it (socket and all) when the deadline passes.
 */
export class KubeClients {
  private readonly byContext = new Map<string, KubeApis>();
  private readonly base: KubeConfig;

  /**
   * `kubeconfig`: the KUBECONFIG value (one path or several joined by ":"); absent: ~/.kube/config or
   * in-cluster. Refuses a kubeconfig that would send credentials over plain http (see `plainHttpCredentials`).
   */
  constructor(
    kubeconfig?: string,
    readonly callTimeoutMs = KUBE_CALL_TIMEOUT_MS,
  ) {
    this.base = loadKubeconfig(kubeconfig);
    const problems = plainHttpCredentials(this.base);
    if (problems.length > 0) throw new BackoutError('config', problems.join('\n'));
  }

  contexts(): string[] {
    return this.base.getContexts().map((c) => c.name);
  }

  /** The namespace a context names (kubectl's default namespace for it), if any. */
  namespaceOf(context: string): string | undefined {
    return this.base.getContextObject(context)?.namespace;
  }

  /** The API server URL of a context's cluster. */
  serverOf(context: string): string | undefined {
    const ctx = this.base.getContextObject(context);
    return ctx ? this.base.getCluster(ctx.cluster)?.server : undefined;
  }

  currentContext(): string | undefined {
    return this.base.getCurrentContext() || undefined;
  }

  for(context: string): KubeApis {
    const cached = this.byContext.get(context);
    if (cached) return cached;
    if (!this.base.getContextObject(context)) {
      throw new IntegrationError('kubernetes', `The kubeconfig has no context named "${context}".`, {
        retryable: false,
        hint: `Contexts available: ${this.contexts().join(', ') || 'none'}. Check KUBECONFIG and the service's kubernetes.context.`,
      });
    }
    const kc = new KubeConfig();
    kc.loadFromString(this.base.exportConfig());
    kc.setCurrentContext(context);
    const config = withDeadline(kc, this.callTimeoutMs);
    const apis: KubeApis = {
      apps: new AppsV1Api(config),
      custom: new CustomObjectsApi(config),
      networking: new NetworkingV1Api(config),
      authorization: new AuthorizationV1Api(config),
      batch: new BatchV1Api(config),
      version: new VersionApi(config),
    };
    this.byContext.set(context, apis);
    return apis;
  }
}

/** What `kc.makeApiClient` builds, plus a deadline on every request. */
function withDeadline(kc: KubeConfig, timeoutMs: number): Configuration {
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new IntegrationError('kubernetes', 'The kubeconfig context names no cluster.', {
      retryable: false,
    });
  return createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
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

function loadKubeconfig(kubeconfig: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  const paths = (kubeconfig ?? '').split(delimiter).filter(Boolean);
  if (paths.length === 0) {
    kc.loadFromDefault();
    return kc;
  }
  kc.loadFromFile(paths[0]!);
  for (const path of paths.slice(1)) {
    const next = new KubeConfig();
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
export function plainHttpCredentials(kc: KubeConfig): string[] {
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

/** Start-up problems of the kubeconfig KUBECONFIG names (credentials over http), without building clients. */
export function kubeconfigProblems(kubeconfig: string | undefined): string[] {
  try {
    return plainHttpCredentials(loadKubeconfig(kubeconfig));
  } catch (err) {
    return [`the kubeconfig could not be read: ${err instanceof Error ? err.message : String(err)}`];
  }
}
