import {
  AppsV1Api,
  AuthorizationV1Api,
  createConfiguration,
  CustomObjectsApi,
  KubeConfig,
  NetworkingV1Api,
  ServerConfiguration,
  VersionApi,
  type Configuration,
} from '@kubernetes/client-node';
import { delimiter } from 'node:path';
import { IntegrationError } from '../../errors.js';

export interface KubeApis {
  apps: AppsV1Api;
  custom: CustomObjectsApi;
  networking: NetworkingV1Api;
  authorization: AuthorizationV1Api;
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

  /** `kubeconfig`: the KUBECONFIG value (one path or several joined by ":"); absent: ~/.kube/config or in-cluster. */
  constructor(
    kubeconfig?: string,
    readonly callTimeoutMs = KUBE_CALL_TIMEOUT_MS,
  ) {
    this.base = new KubeConfig();
    const paths = (kubeconfig ?? '').split(delimiter).filter(Boolean);
    if (paths.length === 0) {
      this.base.loadFromDefault();
      return;
    }
    this.base.loadFromFile(paths[0]!);
    for (const path of paths.slice(1)) {
      const next = new KubeConfig();
      next.loadFromFile(path);
      this.base.mergeConfig(next, true);
    }
  }

  contexts(): string[] {
    return this.base.getContexts().map((c) => c.name);
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
