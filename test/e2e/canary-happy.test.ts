import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import {
  answerAt,
  auditRecords,
  canaryConfigYaml,
  card,
  cardSays,
  click,
  gateMessage,
  NS,
  SERVICES,
  seedCanaries,
  slash,
  stableImage,
  weightPatches,
  type Provider,
} from './canary-kit.js';

describe('a healthy canary walks 5 → 20 → 50 %, stops for approval, then reaches 100 % and hands traffic to stable', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld({ config: canaryConfigYaml({ dwell: '1s', interval: '300ms' }) });
    seedCanaries(world);
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  async function walk(provider: Provider): Promise<void> {
    const { image } = SERVICES[provider];
    const { responseUrl } = await slash(bot.client, world, provider, `start ${image} --reason "1.x → 2.0"`);
    expect(await answerAt(world, responseUrl)).toContain('needs approval');
    const plan = await card(world, provider);
    expect(plan.text).toContain(`Canary ${image}`);
    const approveStart = await click(bot.client, world, provider, plan, 'backout_approve', PEOPLE.sre1);
    expect(approveStart).toContain('Approved');

    // It stops at 50 % and waits: nothing beyond 50 % until someone approves 100 %.
    const gate = await gateMessage(world, provider, plan.ts);
    const before = weightPatches(world, provider);
    if (provider === 'argo') {
      expect(before).toEqual([{ status: { pauseConditions: null } }, { status: { pauseConditions: null } }]);
    } else {
      expect(before).toEqual([5, 20, 50]);
    }
    expect(gate.text).toMatch(/error-rate 0\.001 \(max 0\.005\)/);
    expect(gate.text).toMatch(/failed checks 0 of 2/);

    // The requester cannot approve their own canary; a stranger is no approver.
    expect(await click(bot.client, world, provider, gate, 'backout_promote', PEOPLE.requester)).toContain(
      'two-person rule',
    );
    expect(await click(bot.client, world, provider, gate, 'backout_promote', PEOPLE.stranger)).toContain(
      'not an approver',
    );
    expect(weightPatches(world, provider)).toEqual(before);

    const approved = await click(bot.client, world, provider, gate, 'backout_promote', PEOPLE.sre2);
    expect(approved).toContain('goes to 100 %');
    const done = await cardSays(world, provider, plan.ts, /promoted/).catch((err: unknown) => {
      console.log(world.slack.transcript(SERVICES[provider].channel, plan.ts));
      console.log(bot.logs.filter((l) => !l.includes('"level":20')).join(''));
      throw err;
    });
    expect(done.text).toContain(`promoted: ${image} is stable`);

    if (provider === 'argo') {
      expect(weightPatches(world, provider)).toEqual([...before, { status: { promoteFull: true } }]);
      const ro = world.prod.get('Rollout', NS, 'shop')!;
      expect(ro.status).toMatchObject({ phase: 'Healthy', stableRS: ro.status?.currentPodHash });
    } else {
      // Flagger's order: stable takes the new pod spec first, so the canary never goes past 50 %.
      expect(weightPatches(world, provider)).toEqual([5, 20, 50, 0]);
      const canary = world.prod.get('Deployment', NS, `${SERVICES[provider].service}-canary`)!;
      expect(canary.spec?.replicas).toBe(0);
      expect(canary.metadata?.annotations?.['backout.dev/canary-replicas']).toBe('1');
    }
    expect(stableImage(world, provider)).toBe(image);

    const requestId = /`(cn-[a-z0-9]{8})`/.exec(JSON.stringify(plan.blocks))?.[1];
    const audit = (await auditRecords(world)).filter((r) => r.requestId === requestId);
    const weights = audit.filter((r) => r.type === 'canary.weight').map((r) => r.details?.weight);
    expect(weights).toEqual(provider === 'argo' ? [5, 20, 50] : [5, 20, 50, 0]);
    expect(audit.find((r) => r.type === 'canary.promotion-approved')).toMatchObject({
      approver: PEOPLE.sre2,
      details: { weight: 50, failedChecks: 0 },
    });
    expect(audit.at(-1)).toMatchObject({ type: 'job.succeeded', outcome: `promoted: ${image} is stable` });

    // The gate message now says who approved, with the numbers, and offers no more buttons.
    const closed = world.slack.message(SERVICES[provider].channel, gate.ts)!;
    expect(closed.text).toContain(`approved by <@${PEOPLE.sre2}>`);
    expect(JSON.stringify(closed.blocks)).not.toContain('backout_promote');
  }

  it.concurrent(
    'NGINX Ingress: canary-weight 5, 20, 50, stable takes the image, then 0 and the canary scaled down',
    () => walk('nginx'),
  );
  it.concurrent(
    'Gateway API: backendRefs weights 5, 20, 50, stable takes the image, then 0/100 and the canary scaled down',
    () => walk('gateway'),
  );
  it.concurrent('Argo Rollouts: the Rollout pauses at 5, 20, 50; promote twice, then promote --full', () =>
    walk('argo'),
  );
});
