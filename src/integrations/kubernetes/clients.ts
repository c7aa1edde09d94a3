import {
  AppsV1Api,
  AuthorizationV1Api,
  BatchV1Api,
  CustomObjectsApi,
  KubeConfig,
  NetworkingV1Api,
  VersionApi,
} from '@kubernetes/client-node';
import { delimiter } from 'node:path';
import { IntegrationError } from '../../errors.js';

export interface KubeApis {
  apps: AppsV1Api;
  custom: CustomObjectsApi;
  networking: NetworkingV1Api;
  authorization: AuthorizationV1Api;
  batch: BatchV1Api;
  version: VersionApi;
}

/**
 * One set of API clients per kubeconfig context, built lazily from one KubeConfig load
 * (KUBECONFIG, as kubectl reads it: a path or a list of paths).
 */
export class KubeClients {
  private readonly byContext = new Map<string, KubeApis>();
  private readonly base: KubeConfig;

  /** `kubeconfig`: the KUBECONFIG value (one path or several joined by ":"); absent: ~/.kube/config or in-cluster. */
  constructor(kubeconfig?: string) {
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
    const apis: KubeApis = {
      apps: kc.makeApiClient(AppsV1Api),
      custom: kc.makeApiClient(CustomObjectsApi),
      networking: kc.makeApiClient(NetworkingV1Api),
      authorization: kc.makeApiClient(AuthorizationV1Api),
      batch: kc.makeApiClient(BatchV1Api),
      version: kc.makeApiClient(VersionApi),
    };
    this.byContext.set(context, apis);
    return apis;
  }
}
