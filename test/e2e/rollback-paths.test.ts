import { afterEach, describe, expect, it } from 'vitest';
import { cardIn, cardText, click, deploymentPatches, run, waitCard } from '../kit/flows.js';
import { TargetLocks } from '../../src/requests/target-lock.js';
import { createWorld, defaultConfigYaml, PEOPLE, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

describe('/rollback: refusals that change nothing', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('--to a missing revision, a paused Deployment and target == current each say so and change nothing', async () => {
    world = await createWorld();
    const bot = await world.start();
    const missing = await (await run(world, bot, '/rollback', 'checkout-api --to 9')).answer();
    expect(missing).toContain('unable to find specified revision 9 in history');
    expect(missing).toMatch(/\*3\*.*shop\/checkout:1\.4\.2/);

    expect(await (await run(world, bot, '/rollback', 'checkout-api --to 3')).answer()).toContain(
      'skipped rollback (current template already matches revision 3)',
    );

    world.prod.update('Deployment', 'shop', 'checkout-api', (d) => {
      d.spec!.paused = true;
    });
    expect(await (await run(world, bot, '/rollback', 'checkout-api')).answer()).toContain(
      "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again",
    );

    expect(deploymentPatches(world.prod)).toHaveLength(0);
    expect(await world.redis.keys(`${world.prefix}:req:*`)).toHaveLength(0);
  });

  it('history lists revisions newest first with images, age and the current marker', async () => {
    world = await createWorld();
    const bot = await world.start();
    const text = await (await run(world, bot, '/rollback', 'checkout-api history')).answer();
    expect(text).toMatch(/\*3\*.*shop\/checkout:1\.4\.2.*\(current\)/);
    expect(text.indexOf('*3*')).toBeLessThan(text.indexOf('*2*'));
    expect(text.indexOf('*2*')).toBeLessThan(text.indexOf('*1*'));
  });

  it('a second /rollback of the same service and environment while one is open is refused with who holds it', async () => {
    world = await createWorld();
    const bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api --reason first');
    await cardIn(world);
    const second = await (
      await run(world, bot, '/rollback', 'checkout-api', { user: PEOPLE.oncall })
    ).answer();
    expect(second).toMatch(
      /checkout-api\/production is busy: rb-[a-z0-9]{8} \(Roll back checkout-api in production from revision 3 to revision 2, requested by <@U0REQUEST>\) is waiting for approval/,
    );
    expect(await world.redis.keys(`${world.prefix}:req:*`)).toHaveLength(1);
  });

  it('a target taken moments ago by a request still being filed is not taken over; one whose filing died is, after a minute', async () => {
    world = await createWorld();
    const bot = await world.start();
    const lockKey = `${world.prefix}:target:checkout-api/production`;
    // Another filing has taken the target and not stored its request yet (it does so next).
    expect(
      await new TargetLocks(world.redis, world.prefix).acquire('checkout-api/production', 'rb-0filing'),
    ).toEqual({
      ok: true,
    });
    const refused = await (await run(world, bot, '/rollback', 'checkout-api')).answer();
    expect(refused).toMatch(
      /checkout-api\/production is busy: request rb-0filing took it \d+ s ago and is still being filed \(if that filing failed, the target frees itself within a minute\)\. Nothing was changed\./,
    );
    expect(refused).toContain(
      'Its card appears in a moment: approve or reject that one, or run the command again once the target is free.',
    );
    expect(await world.redis.get(lockKey)).toBe('rb-0filing');
    expect(await world.redis.keys(`${world.prefix}:req:*`)).toHaveLength(0);
    // Over a minute on, its request was never stored: that filing died, and the target is taken over.
    await world.redis.pexpire(lockKey, 6 * 3_600_000 - 61_000);
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    const id = /`(rb-[a-z0-9]{8})`/.exec(JSON.stringify(card.blocks))?.[1];
    expect(id).toBeDefined();
    expect(await world.redis.get(lockKey)).toBe(id);
  });

  it('a holder whose approval window is over (its expiry not run yet) is expired at once, and the new filing takes the target', async () => {
    world = await createWorld();
    const bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api --reason first');
    const first = await cardIn(world);
    const firstId = /`(rb-[a-z0-9]{8})`/.exec(JSON.stringify(first.blocks))?.[1];
    // Its window closed a moment ago and its expiry timer has not fired (or was lost).
    const key = `${world.prefix}:req:${firstId}`;
    const spec = JSON.parse((await world.redis.hget(key, 'spec'))!) as { expiresAt: number };
    spec.expiresAt = Date.now() - 1_000;
    await world.redis.hset(key, { spec: JSON.stringify(spec), expiresAt: String(spec.expiresAt) });
    await run(world, bot, '/rollback', 'checkout-api --reason second', { user: PEOPLE.oncall });
    const second = await cardIn(world, PEOPLE.checkout, 1);
    const secondId = /`(rb-[a-z0-9]{8})`/.exec(JSON.stringify(second.blocks))?.[1];
    expect(secondId).toBeDefined();
    expect(secondId).not.toBe(firstId);
    expect(await world.redis.get(`${world.prefix}:target:checkout-api/production`)).toBe(secondId);
    expect(await world.redis.hget(key, 'state')).toBe('expired');
    await waitCard(world, first, /Expired/);
  });

  it('a requester outside the policy is told who may file, and nothing is filed', async () => {
    world = await createWorld({
      config: (urls) =>
        defaultConfigYaml(urls).replace(
          '  approval: required',
          `  approval: required\n  requesters: { users: [${PEOPLE.requester}] }`,
        ),
    });
    const bot = await world.start();
    const text = await (
      await run(world, bot, '/rollback', 'checkout-api', { user: PEOPLE.stranger })
    ).answer();
    expect(text).toMatch(/not allowed to roll back checkout-api in production.*filed by <@U0REQUEST>/);
    expect(await world.redis.keys(`${world.prefix}:req:*`)).toHaveLength(0);
  });
});

describe('/rollback: what happens after approval', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('the Deployment changes between approval and execution: the job stops with "plan is stale" and patches nothing', async () => {
    world = await createWorld();
    const bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    // A colleague deploys by hand after the plan was made.
    world.prod.update('Deployment', 'shop', 'checkout-api', (d) => {
      d.spec!.template.spec!.containers[0]!.image = 'shop/checkout:1.4.3-hotfix';
    });
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Failed/, 20_000);
    expect(cardText(world, card)).toMatch(/plan is stale/);
    expect(deploymentPatches(world.prod)).toHaveLength(0);
    expect(
      world.prod.get('Deployment', 'shop', 'checkout-api')?.spec?.template.spec?.containers[0]?.image,
    ).toBe('shop/checkout:1.4.3-hotfix');
  });

  it('the rollout stalls: the job fails with the reason and offers Retry; after the cause is fixed, Retry finishes it', async () => {
    world = await createWorld();
    const bot = await world.start();
    world.prod.setRollout('shop', 'checkout-api', { mode: 'stall', after: 1 });
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Failed/, 20_000);
    expect(cardText(world, card)).toContain('exceeded its progress deadline');
    world.prod.setRollout('shop', 'checkout-api', { mode: 'converge' });
    world.prod.update('Deployment', 'shop', 'checkout-api', (d) => {
      d.status!.conditions = (d.status?.conditions ?? []).filter((c) => c.type !== 'Progressing');
    });
    await click(world, bot, card, 'backout_retry', PEOPLE.sre2);
    await waitCard(world, card, /Done — healthy/);
    expect(deploymentPatches(world.prod)).toHaveLength(1);
  });

  it('a failing probe and query make the outcome "degraded", with the numbers', async () => {
    world = await createWorld();
    const bot = await world.start();
    world.probe.setStatus(503);
    world.prometheus.set('code=~"5.."', 0.042);
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done — degraded/);
    const thread = world.slack.transcript(card.channel, card.ts);
    expect(thread).toContain('answered 503');
    expect(thread).toContain('error-rate 0.042 (max 0.005)');
  });

  it('with DRY_RUN, the plan, approval and report happen and nothing is patched', async () => {
    world = await createWorld();
    const bot = await world.start({ DRY_RUN: 'true' });
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    expect(cardText(world, card)).toContain('DRY RUN');
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done — dry run/);
    expect(deploymentPatches(world.prod)).toHaveLength(0);
    expect(world.slack.transcript(card.channel, card.ts)).toContain('would have restored revision 2');
  });

  it('"Roll forward" on a finished rollback files a new request back to the revision it left', async () => {
    world = await createWorld();
    const bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done — healthy/);
    const url = await click(world, bot, card, 'backout_undo', PEOPLE.requester);
    const answer = await waitFor(() => world.slack.responses(url)[0], { what: 'roll forward answer' });
    expect(JSON.stringify(answer.body)).toMatch(
      /Filed `rb-[a-z0-9]{8}`: Roll forward checkout-api in production from revision 4 to revision 3/,
    );
  });
});
