import type { EnvironmentConfig } from '../../config/model.js';
import type { KubeClients } from '../kubernetes/clients.js';
import type { Deployments } from '../kubernetes/types.js';
import { ArgoRolloutsProvider } from './argo-rollouts.js';
import { GatewayApiProvider } from './gateway-api.js';
import { NginxIngressProvider } from './nginx-ingress.js';
import type { TrafficProvider, TrafficProviderName, TrafficProviders, TrafficTarget } from './types.js';

export type * from './types.js';

/** The three providers, built once by the composition root over the shared Kubernetes clients. */
export function createTrafficProviders(clients: KubeClients, deployments: Deployments): TrafficProviders {
  const providers: Record<TrafficProviderName, TrafficProvider> = {
    'argo-rollouts': new ArgoRolloutsProvider(clients),
    'nginx-ingress': new NginxIngressProvider(clients, deployments),
    'gateway-api': new GatewayApiProvider(clients, deployments),
  };
  return { for: (name) => providers[name] };
}

/** Where an environment's canary lives, with the config's defaults filled in. Undefined without a canary block. */
export function trafficTarget(env: EnvironmentConfig): TrafficTarget | undefined {
  const c = env.canary;
  if (!c) return undefined;
  const k = env.kubernetes;
  const object =
    c.provider === 'argo-rollouts' ? c.rollout : c.provider === 'nginx-ingress' ? c.ingress : c.httpRoute;
  const canaryDeployment = c.canaryDeployment ?? `${k.deployment}-canary`;
  return {
    provider: c.provider,
    context: k.context,
    namespace: k.namespace,
    object: object ?? '',
    stableDeployment: k.deployment,
    canaryDeployment,
    stableBackend: c.stableBackend ?? k.deployment,
    canaryBackend: c.canaryBackend ?? canaryDeployment,
  };
}
