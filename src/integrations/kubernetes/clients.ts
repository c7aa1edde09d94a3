import type { KubeConfig } from '@kubernetes/client-node';
import { BackoutError, IntegrationError } from '../../errors.js';
import { HttpKubeApi, NativeAuthenticator, type Authenticator, type KubeApi } from './api.js';
import {
  kubeconfigPaths,
  loadKubeconfig,
  readKubeconfigFiles,
  type Cluster,
  type Context,
  type Kubeconfig,
  type User,
} from './kubeconfig.js';

export { PatchStrategy, type KubeApi, type ResourceRef } from './api.js';
export { kubeconfigPaths } from './kubeconfig.js';

/** How long one Kubernetes API call may take, connecting and reading the body included. */
export const KUBE_CALL_TIMEOUT_MS = 15_000;

/**
 * One API client per kubeconfig context, built lazily from one kubeconfig load (KUBECONFIG, as
 * kubectl reads it: a path or a list of paths; else ~/.kube/config or the in-cluster service
 * account). Every call carries a deadline. backout speaks to the API itself over kept-alive
 * connections; @kubernetes/client-node (about 90 MB resident once loaded) is loaded only for a
 * context that needs it (a legacy auth-provider or a proxy-url).
 */
export class KubeClients {
  private readonly byContext = new Map<string, KubeApi>();
  private loaded: Promise<Kubeconfig> | undefined;

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

  /**
   * Reads the kubeconfig (once it has succeeded: a file that could not be read is tried again on
   * the next call); rejects with a config error on credentials over http.
   */
  load(): Promise<Kubeconfig> {
    return (this.loaded ??= Promise.resolve()
      .then(() => readKubeconfig(this.kubeconfig))
      .then(
        (kc) => {
          this.onLoad?.(this);
          return kc;
        },
        (err: unknown) => {
          this.loaded = undefined;
          throw err;
        },
      ));
  }

  async contexts(): Promise<string[]> {
    return (await this.load()).getContexts().map((c) => c.name);
  }

  /** The namespace a context names (kubectl's default namespace for it), if any. */
  async namespaceOf(context: string): Promise<string | undefined> {
    return (await this.load()).getContext(context)?.namespace;
  }

  /** The API server URL of a context's cluster. */
  async serverOf(context: string): Promise<string | undefined> {
    const kc = await this.load();
    const ctx = kc.getContext(context);
    return ctx ? kc.getCluster(ctx.cluster)?.server : undefined;
  }

  async currentContext(): Promise<string | undefined> {
    return (await this.load()).currentContext;
  }

  async for(context: string): Promise<KubeApi> {
    const cached = this.byContext.get(context);
    if (cached) return cached;
    const kc = await this.load();
    const again = this.byContext.get(context);
    if (again) return again;
    const ctx = kc.getContext(context);
    if (!ctx) {
      throw new IntegrationError('kubernetes', `The kubeconfig has no context named "${context}".`, {
        retryable: false,
        hint: `Contexts available: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        }. Check KUBECONFIG and the service's kubernetes.context.`,
      });
    }
    const cluster = kc.getCluster(ctx.cluster);
    if (!cluster?.server)
      throw new IntegrationError(
        'kubernetes',
        `The kubeconfig context "${context}" names no cluster with a server address.`,
        { retryable: false, hint: `Add cluster "${ctx.cluster}" with its server to the kubeconfig.` },
      );
    const user = kc.getUser(ctx.user) ?? { name: ctx.user };
    let auth: Authenticator;
    try {
      auth = needsLibrary(cluster, user)
        ? await libraryAuthenticator(ctx, cluster, user)
        : new NativeAuthenticator(cluster, user);
    } catch (err) {
      throw new IntegrationError(
        'kubernetes',
        `The credentials of kubeconfig context "${context}" could not be read: ${(err as Error).message}`,
        { retryable: false, hint: 'Check the files the kubeconfig names for this context.' },
      );
    }
    const api = new HttpKubeApi(cluster.server, auth, this.callTimeoutMs);
    this.byContext.set(context, api);
    return api;
  }
}

function readKubeconfig(kubeconfig: string | undefined): Kubeconfig {
  let kc: Kubeconfig;
  try {
    kc = loadKubeconfig(kubeconfig);
  } catch (err) {
    throw new IntegrationError(
      'kubernetes',
      `The kubeconfig could not be read: ${err instanceof Error ? err.message : String(err)}`,
      {
        retryable: true,
        hint: 'Check KUBECONFIG and the files it names (`backout doctor` checks them); backout reads them again on the next Kubernetes call.',
      },
    );
  }
  const problems = plainHttpCredentials(kc);
  if (problems.length > 0) throw new BackoutError('config', problems.join('\n'));
  return kc;
}

/**
 * Whether a context needs @kubernetes/client-node's own handling: a legacy auth-provider (oidc,
 * gcp, azure) or a proxy-url. Everything else (tokens, token files, basic auth, client
 * certificates, exec plugins, in-cluster) backout sends itself.
 */
function needsLibrary(cluster: Cluster, user: User): boolean {
  return Boolean(user.authProvider || cluster.proxyUrl);
}

/**
 * A legacy auth-provider (oidc, gcp, azure) or a proxy-url (http, https or socks), handled by
 * @kubernetes/client-node's KubeConfig, loaded for this only: it fills in each request's headers
 * and its agent (which it keeps per cluster and user).
 */
async function libraryAuthenticator(ctx: Context, cluster: Cluster, user: User): Promise<Authenticator> {
  const lib = await import('@kubernetes/client-node');
  const kc: KubeConfig = new lib.KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    // Impersonation is added below: client-node does not send it.
    users: [user as never],
    contexts: [{ name: ctx.name, cluster: ctx.cluster, user: user.name }],
    currentContext: ctx.name,
  });
  return {
    async prepare() {
      const opts: { headers?: Record<string, string>; agent?: unknown; auth?: string } = { headers: {} };
      await kc.applyToHTTPSOptions(opts as never);
      return {
        headers: {
          ...opts.headers,
          ...(user.impersonate ? { 'Impersonate-User': user.impersonate } : {}),
          ...(user.impersonateGroups?.length ? { 'Impersonate-Group': user.impersonateGroups } : {}),
        },
        agent: opts.agent as never,
        ...(opts.auth ? { auth: opts.auth } : {}),
      };
    },
    retryAfter401: () => false,
  };
}

/**
 * Contexts whose user carries credentials (a bearer token, basic auth, a client certificate, an
 * exec or auth-provider plugin) for an `http://` server: anyone on the path could read and replay
 * them, so, like kubectl, backout refuses to start with them. One problem per context, with the fix.
 */
export function plainHttpCredentials(kc: Kubeconfig): string[] {
  const problems: string[] = [];
  for (const ctx of kc.getContexts()) {
    const cluster = kc.getCluster(ctx.cluster);
    const user = kc.getUser(ctx.user);
    if (!cluster || !user || !cluster.server.toLowerCase().startsWith('http://')) continue;
    const kinds = [
      user.token || user.tokenFile ? 'a bearer token' : '',
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
