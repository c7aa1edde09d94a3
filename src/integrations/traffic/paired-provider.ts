import type { Deployments } from '../kubernetes/types.js';
import type { KubeClients } from '../kubernetes/clients.js';
import { DeploymentPair } from './deployment-pair.js';
import type { Observation, PromotionAction, Stop, TrafficTarget } from './types.js';

/**
 * What the two providers that split traffic between a stable and a canary Deployment (NGINX
 * Ingress, Gateway API) have in common: the configured steps are the stops, the canary
 * workload is the canary Deployment, promotion goes through the stable Deployment, and
 * abort is weight 0. Each subclass only says how to read and move the weight.
 */
export abstract class PairedTrafficProvider {
  protected readonly pair: DeploymentPair;

  constructor(
    protected readonly clients: KubeClients,
    deployments: Deployments,
  ) {
    this.pair = new DeploymentPair(deployments, clients);
  }

  abstract advance(t: TrafficTarget, stop: Stop): Promise<'patched' | 'unchanged'>;
  abstract observe(t: TrafficTarget, stop: Stop): Promise<Observation>;

  stops(_t: TrafficTarget, configured: number[]): Promise<{ stops: Stop[] }> {
    return Promise.resolve({ stops: configured.filter((w) => w < 100).map((weight) => ({ weight })) });
  }

  deployCanary(t: TrafficTarget, container: string, image: string): Promise<'patched' | 'unchanged'> {
    return this.pair.deployCanary(t, container, image);
  }

  canaryReady(t: TrafficTarget): Promise<Observation> {
    return this.pair.canaryReady(t);
  }

  promotion(t: TrafficTarget, container: string, image: string): PromotionAction[] {
    return this.pair.promotion(t, container, image, this);
  }

  abort(t: TrafficTarget): Promise<'patched' | 'unchanged'> {
    return this.advance(t, { weight: 0 });
  }
}
