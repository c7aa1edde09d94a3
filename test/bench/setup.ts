/**
 * The bench's world: a config with many services (each in its own Slack channel, so Slack's pacing
 * of about one post per second per channel does not throttle the figures) and their Deployments,
 * seeded in the Kubernetes double with two revisions and a fast controller tick.
 */
import type { World } from '../kit/world.js';
import { PEOPLE } from '../kit/world.js';

export const NAMESPACE = 'bench';
/** Services rolled back without approval: the overhead and memory figures. */
export const PLAIN_SERVICES = 100;
/**
 * Services whose rollbacks need an approval: the approval → start figure. One request each: backout
 * paces Slack posts per channel, so a second request in a channel would wait behind the first one's
 * thread replies before its card showed up.
 */
export const APPROVAL_SERVICES = 100;
/**
 * Services of the memory figure: its 1,000 rollbacks run 100 at a time, each round on the next 100
 * of these, so each channel carries two or three rollbacks' cards and replies. On 100 channels it
 * was ten each, and waiting for Slack's pace of about one post a second per channel to deliver
 * them took over two minutes of the bench.
 */
export const MEMORY_SERVICES = 400;
/** The Deployment controller's tick for bench Deployments: one tick converges a one-replica rollout. */
export const TICK_MS = 5;

const pad = (i: number) => String(i).padStart(3, '0');

export interface BenchService {
  name: string;
  channel: string;
}

export const plainServices: BenchService[] = Array.from({ length: PLAIN_SERVICES }, (_, i) => ({
  name: `svc-${pad(i + 1)}`,
  channel: `C0BENCH${pad(i + 1)}`,
}));

export const approvalServices: BenchService[] = Array.from({ length: APPROVAL_SERVICES }, (_, i) => ({
  name: `appr-${pad(i + 1)}`,
  channel: `C0APPR${pad(i + 1)}`,
}));

/** The memory figure's services: the plain ones, then more of the same kind. */
export const memoryServices: BenchService[] = [
  ...plainServices,
  ...Array.from({ length: MEMORY_SERVICES - PLAIN_SERVICES }, (_, i) => ({
    name: `mem-${pad(i + PLAIN_SERVICES + 1)}`,
    channel: `C0MEM${pad(i + PLAIN_SERVICES + 1)}`,
  })),
];

const PLAIN_POLICY = '\n        policy: { approval: not-required }';

function environment(s: BenchService, policy: string): string {
  return `
  ${s.name}:
    environments:
      bench:
        default: true
        kubernetes: { context: prod, namespace: ${NAMESPACE}, deployment: ${s.name} }
        channel: ${s.channel}
        rollout: { timeout: 60s }${policy}`;
}

/**
 * SPEC-shaped policy (approval required, two people, approvers by user and group); `checkout-api`
 * for the acknowledgement figure; `svc-NNN` without approval; `appr-NNN` with it (left out with
 * `memory`, for the memory figure and the soak, which have their own processes and config: the
 * plain services and `mem-NNN`, also without approval). No health checks.
 */
export function benchConfigYaml(opts: { memory?: boolean } = {}): string {
  return `
slack:
  incidentChannel: ${PEOPLE.incident}
policy:
  approvers: { users: [${PEOPLE.sre1}, ${PEOPLE.sre2}], usergroups: [${PEOPLE.oncallGroup}] }
  approval: required
  twoPerson: true
  approvalTtl: 15m
services:
  checkout-api:
    environments:
      production:
        default: true
        kubernetes: { context: prod, namespace: shop, deployment: checkout-api }
        channel: ${PEOPLE.checkout}
${(opts.memory ? memoryServices : plainServices).map((s) => environment(s, PLAIN_POLICY)).join('')}
${opts.memory ? '' : approvalServices.map((s) => environment(s, '')).join('')}
`;
}

/** Seeds every bench Deployment (one replica, two revisions) and makes its rollouts converge in a tick. */
export function seedBench(world: World): void {
  for (const s of [...memoryServices, ...approvalServices]) {
    world.prod.addDeployment({
      namespace: NAMESPACE,
      name: s.name,
      replicas: 1,
      containers: [
        [{ name: 'app', image: `bench/${s.name}:1.0.0` }],
        [{ name: 'app', image: `bench/${s.name}:1.1.0` }],
      ],
    });
    world.prod.setRollout(NAMESPACE, s.name, { mode: 'converge', tickMs: TICK_MS });
  }
}
