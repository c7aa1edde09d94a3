import type { KubeTarget } from '../kubernetes/types.js';
import type { Writer } from './last-writer.js';

export type TrafficProviderName = 'argo-rollouts' | 'nginx-ingress' | 'gateway-api';

/**
 * Where one service environment's canary lives. `object` is the thing that carries the
 * traffic split: the canary Ingress, the Rollout or the HTTPRoute.
 */
export interface TrafficTarget {
  provider: TrafficProviderName;
  context: string;
  namespace: string;
  object: string;
  /** The stable Deployment (nginx-ingress, gateway-api): promotion sets it to the canary image. */
  stableDeployment: string;
  /** The canary Deployment (nginx-ingress, gateway-api): `start` sets it to the canary image. */
  canaryDeployment: string;
  /** gateway-api: the backendRef names of the stable and canary Services. */
  stableBackend: string;
  canaryBackend: string;
}

/** A place the canary stops at for a dwell and an analysis before going further. */
export interface Stop {
  /** Percent of traffic to the canary. */
  weight: number;
  /** argo-rollouts: the index of the Rollout's `pause: {}` step this stop is. */
  stepIndex?: number;
}

/** What a provider reads from the cluster. */
export interface TrafficState {
  /** Percent of traffic the canary receives now. */
  weight: number;
  /** The image stable pods run, when it can be told. */
  stableImage?: string;
  /** The image the canary workload runs. */
  canaryImage?: string;
  /** The canary workload's container that carries the image. */
  container?: string;
  /** No canary in progress: all traffic on stable (an aborted Rollout counts as idle). */
  idle: boolean;
  /** argo-rollouts: the Rollout carries `status.abort` (someone or something aborted it). */
  aborted?: boolean;
  /** `metadata.generation` of the object carrying the split (a plan is stale when it moved). */
  generation: number;
  /** In plain words, for status answers and the card. */
  summary: string;
}

/** The answer to "is it there yet?": done, still waiting (with why), or failed for good. */
export interface Observation {
  done: boolean;
  message: string;
  failed?: string;
}

/** One idempotent move of a full promotion (reads before it writes, so a re-run is safe). */
export interface PromotionAction {
  name: string;
  label: string;
  /** Set when the action moves traffic: the canary's weight once it is done. */
  weight?: number;
  /** Set when the action puts the stable workload on the canary image (an abort after it cannot undo that). */
  changesStable?: boolean;
  run(): Promise<Observation>;
}

/**
 * One traffic-splitting ecosystem, doing exactly what that ecosystem's own tools do.
 * Every write reads first and leaves the object alone when it is already as asked, so a
 * job resumed after a crash never repeats a patch.
 */
export interface TrafficProvider {
  readonly name: TrafficProviderName;
  /** Human name of the object, e.g. "canary Ingress shop/checkout-api-canary". */
  describe(t: TrafficTarget): string;
  read(t: TrafficTarget): Promise<TrafficState>;
  /** The stops before the 100 % gate, from the configured steps (or the Rollout's own). */
  stops(t: TrafficTarget, configured: number[]): Promise<{ stops: Stop[]; note?: string }>;
  /** Puts the canary workload on `image`; 'unchanged' when it already runs it. */
  deployCanary(t: TrafficTarget, container: string, image: string): Promise<'patched' | 'unchanged'>;
  /** Whether the canary workload is ready to take traffic. */
  canaryReady(t: TrafficTarget): Promise<Observation>;
  /** Moves traffic to the stop; 'waiting' when the provider must get somewhere first. */
  advance(t: TrafficTarget, stop: Stop): Promise<'patched' | 'unchanged' | 'waiting'>;
  /** Whether the stop is in effect. */
  observe(t: TrafficTarget, stop: Stop): Promise<Observation>;
  /** The actions of a full promotion, in order: at the end stable serves everything on `image`. */
  promotion(t: TrafficTarget, container: string, image: string): PromotionAction[];
  /**
   * Returns all traffic to stable; 'unchanged' when it already is; 'waiting' when the provider
   * cannot act yet (a Rollout whose controller has not observed its latest spec).
   */
  abort(t: TrafficTarget): Promise<'patched' | 'unchanged' | 'waiting'>;
  /** Whether all traffic is back on stable. */
  aborted(t: TrafficTarget): Promise<Observation>;
  /** Who last wrote the traffic split, from the object's managedFields (to name them when it moved behind backout's back). */
  lastWriter(t: TrafficTarget): Promise<Writer | undefined>;
}

export interface TrafficProviders {
  for(name: TrafficProviderName): TrafficProvider;
}

export function stableTarget(t: TrafficTarget): KubeTarget {
  return { context: t.context, namespace: t.namespace, deployment: t.stableDeployment };
}

export function canaryTarget(t: TrafficTarget): KubeTarget {
  return { context: t.context, namespace: t.namespace, deployment: t.canaryDeployment };
}
