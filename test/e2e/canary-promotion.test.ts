import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import {
  answerAt,
  canaryConfigYaml,
  canaryWeightNow,
  card,
  cardSays,
  click,
  errorRateQuery,
  gateMessage,
  NS,
  SERVICES,
  seedCanaries,
  slash,
  weightPatches,
  type Provider,
} from './canary-kit.js';

type Paired = Exclude<Provider, 'argo'>;
const STABLE_REPLICAS = 20;

/** What the cluster held each time the traffic object changed: the canary's weight and both workloads. */
interface Seen {
  weight: number;
  canaryAvailable: number;
  stableAvailable: number;
  stableImage: string | undefined;
  stableUpdated: number;
}

function deployment(world: World, name: string) {
  return world.prod.get('Deployment', NS, name);
}

/** Records every weight the double stores for the provider's traffic object, with the workloads at that moment. */
function recordWeights(world: World, provider: Paired): Seen[] {
  const seen: Seen[] = [];
  const { service } = SERVICES[provider];
  const object = provider === 'nginx' ? 'Ingress' : 'HTTPRoute';
  const name = provider === 'nginx' ? 'web-canary' : 'api';
  world.prod.onChange((e) => {
    if (e.kind !== object || e.object.metadata.name !== name) return;
    const stable = deployment(world, service);
    seen.push({
      weight: canaryWeightNow(world, provider),
      canaryAvailable: deployment(world, `${service}-canary`)?.status?.availableReplicas ?? 0,
      stableAvailable: stable?.status?.availableReplicas ?? 0,
      stableImage: stable?.spec?.template.spec?.containers[0]?.image,
      stableUpdated: stable?.status?.updatedReplicas ?? 0,
    });
  });
  return seen;
}

/** Stable on 20 replicas, the canary on 1, as many clusters run them. */
async function scaleStable(world: World, provider: Paired): Promise<void> {
  const { service } = SERVICES[provider];
  world.prod.update('Deployment', NS, service, (d) => {
    d.spec!.replicas = STABLE_REPLICAS;
  });
  await waitFor(() => deployment(world, service)?.status?.availableReplicas === STABLE_REPLICAS, {
    what: `${service} at ${STABLE_REPLICAS} replicas`,
  });
}

async function startAndApprove(
  bot: RunningApp,
  world: World,
  provider: Paired,
): Promise<{ ts: string; blocks?: unknown }> {
  const { responseUrl } = await slash(bot.client, world, provider, `start ${SERVICES[provider].image}`);
  expect(await answerAt(world, responseUrl)).toContain('Started');
  const plan = await card(world, provider);
  const gate = await gateMessage(world, provider, plan.ts);
  expect(await click(bot.client, world, provider, gate, 'backout_promote', PEOPLE.sre1)).toContain(
    'goes to 100 %',
  );
  return plan;
}

describe('a 1-replica canary against 20 stable replicas: promotion never gives the canary more than its capacity share', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld({
      config: canaryConfigYaml({
        dwell: '600ms',
        interval: '300ms',
        startApproval: false,
        steps: [2, 4, 100],
      }),
    });
    seedCanaries(world);
    await Promise.all([scaleStable(world, 'nginx'), scaleStable(world, 'gateway')]);
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  async function promote(provider: Paired): Promise<void> {
    const { service, image } = SERVICES[provider];
    const seen = recordWeights(world, provider);
    const plan = await startAndApprove(bot, world, provider);
    const done = await cardSays(world, provider, plan.ts, /promoted/, 40_000);
    expect(done.text).toContain(`promoted: ${image} is stable`);

    // Every weight the cluster held stayed within the canary's share of the serving capacity.
    expect(seen.map((s) => s.weight).filter((w, i, all) => w !== all[i - 1])).toEqual([2, 4, 0]);
    for (const s of seen.filter((x) => x.weight > 0)) {
      expect(s.weight / 100).toBeLessThanOrEqual(s.canaryAvailable / (s.canaryAvailable + s.stableAvailable));
    }
    // Traffic went back to stable only once stable ran the new version on every replica.
    const back = seen.find((s) => s.weight === 0 && s.stableImage === image)!;
    expect(back).toMatchObject({ stableUpdated: STABLE_REPLICAS, stableAvailable: STABLE_REPLICAS });
    expect(weightPatches(world, provider)).toEqual([2, 4, 0]);

    // Then the canary is scaled down, its replica count kept for the next start.
    const canary = deployment(world, `${service}-canary`)!;
    expect(canary.spec?.replicas).toBe(0);
    expect(canary.metadata?.annotations?.['backout.dev/canary-replicas']).toBe('1');
    const thread = world.slack.transcript(SERVICES[provider].channel, plan.ts);
    expect(thread).toContain("canary's pod spec");
    expect(thread).toMatch(/scaled from 1 to 0/);
    expect(thread).not.toContain('100 % of traffic');
  }

  it.concurrent('NGINX Ingress: 2, 4, then stable rolls out the new version, then 0', () => promote('nginx'));
  it.concurrent('Gateway API: 2, 4, then stable rolls out the new version, then 0', () => promote('gateway'));
});

describe('a failure during promotion returns all traffic to stable', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld({
      config: canaryConfigYaml({
        dwell: '600ms',
        interval: '300ms',
        startApproval: false,
        steps: [2, 4, 100],
      }),
    });
    seedCanaries(world);
    await Promise.all([scaleStable(world, 'nginx'), scaleStable(world, 'gateway')]);
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  it.concurrent('analysis keeps running while stable rolls out: failed checks abort, weight 0', async () => {
    const { image } = SERVICES.gateway;
    // A slow stable rollout (20 replicas, 300 ms each), and errors once stable runs the new version.
    world.prod.setRollout(NS, 'api', { mode: 'converge', tickMs: 300 });
    world.prometheus.set(errorRateQuery('api'), () =>
      deployment(world, 'api')?.spec?.template.spec?.containers[0]?.image === image ? 0.09 : 0.001,
    );
    const plan = await startAndApprove(bot, world, 'gateway');
    const done = await cardSays(world, 'gateway', plan.ts, /aborted/, 40_000);
    expect(done.text).toContain('aborted automatically at 4 %');
    expect(weightPatches(world, 'gateway')).toEqual([2, 4, 0]);
    expect(canaryWeightNow(world, 'gateway')).toBe(0);
    // It stopped while stable was still rolling out, and says what state stable is in.
    expect(deployment(world, 'api')!.status?.updatedReplicas ?? 0).toBeLessThan(STABLE_REPLICAS);
    const thread = await waitFor(() => {
      const t = world.slack.transcript(SERVICES.gateway.channel, plan.ts);
      return t.includes('Canary aborted automatically') ? t : undefined;
    });
    expect(thread).toContain('error-rate 0.09 (max 0.005)');
    expect(thread).toContain(`Promotion had already set the stable workload to \`${image}\``);
    expect(thread).toContain('/rollback api --env production');
  });

  it.concurrent(
    'a stable rollout that stalls (ProgressDeadlineExceeded) aborts: weight 0, never 100',
    async () => {
      world.prod.setRollout(NS, 'web', { mode: 'stall', after: 5 });
      const plan = await startAndApprove(bot, world, 'nginx');
      const done = await cardSays(world, 'nginx', plan.ts, /aborted/, 40_000);
      expect(done.text).toContain('aborted automatically at 4 %');
      expect(done.text).toContain('exceeded its progress deadline');
      expect(weightPatches(world, 'nginx')).toEqual([2, 4, 0]);
      expect(canaryWeightNow(world, 'nginx')).toBe(0);
    },
  );
});
