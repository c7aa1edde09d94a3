import { afterEach, describe, expect, it } from 'vitest';
import { findButton, type SlackClient } from '../kit/slack-signing.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

function patchesOf(world: World) {
  return world.prod.requests.filter(
    (r) => r.method === 'PATCH' && r.path.endsWith('/deployments/checkout-api'),
  );
}

async function command(world: World, client: SlackClient, text: string, user = PEOPLE.requester) {
  const url = world.slack.newResponseUrl();
  const ack = await client.command({
    command: '/rollback',
    text,
    user_id: user,
    channel_id: PEOPLE.checkout,
    response_url: url,
  });
  const ackText = (ack.json as { text?: string } | undefined)?.text ?? '';
  return {
    ackText,
    answer: () =>
      waitFor(() => world.slack.responses(url)[0], { what: `answer to "/rollback ${text}"` }).then((r) =>
        JSON.stringify(r.body),
      ),
  };
}

async function cardAfter(world: World, count: number) {
  return waitFor(() => world.slack.messages(PEOPLE.checkout).filter((m) => !m.thread_ts)[count], {
    what: 'plan card',
  });
}

async function approve(world: World, bot: RunningApp, cardTs: string, user = PEOPLE.sre1) {
  const card = world.slack.message(PEOPLE.checkout, cardTs)!;
  const b = findButton(card.blocks, 'backout_approve');
  await bot.client.blockAction({
    user,
    channel: PEOPLE.checkout,
    messageTs: cardTs,
    actionId: b.actionId,
    value: b.value,
    responseUrl: world.slack.newResponseUrl(),
  });
}

const cardText = (world: World, ts: string) => {
  const m = world.slack.message(PEOPLE.checkout, ts);
  return m ? `${m.text}\n${JSON.stringify(m.blocks)}` : '';
};

describe('/rollback: refusals that change nothing', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('--to a missing revision, a paused Deployment and target == current each say so and change nothing', async () => {
    world = await createWorld();
    const bot = await world.start();
    const missing = await command(world, bot.client, 'checkout-api --to 9');
    const missingText = await missing.answer();
    expect(missingText).toContain('unable to find specified revision 9 in history');
    expect(missingText).toMatch(/\*3\*.*shop\/checkout:1\.4\.2/);

    const current = await command(world, bot.client, 'checkout-api --to 3');
    expect(await current.answer()).toContain(
      'skipped rollback (current template already matches revision 3)',
    );

    world.prod.update('Deployment', 'shop', 'checkout-api', (d) => {
      d.spec!.paused = true;
    });
    const paused = await command(world, bot.client, 'checkout-api');
    expect(await paused.answer()).toContain(
      "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again",
    );

    expect(patchesOf(world)).toHaveLength(0);
    expect(await world.redis.keys(`${world.prefix}:req:*`)).toHaveLength(0);
  });

  it('history lists revisions newest first with images, age and the current marker', async () => {
    world = await createWorld();
    const bot = await world.start();
    const history = await command(world, bot.client, 'checkout-api history');
    const text = await history.answer();
    expect(text).toMatch(/\*3\*.*shop\/checkout:1\.4\.2.*\(current\)/);
    expect(text.indexOf('*3*')).toBeLessThan(text.indexOf('*2*'));
    expect(text.indexOf('*2*')).toBeLessThan(text.indexOf('*1*'));
  });

  it('a second /rollback of the same service and environment while one is open is refused with who holds it', async () => {
    world = await createWorld();
    const bot = await world.start();
    await command(world, bot.client, 'checkout-api --reason first');
    await cardAfter(world, 0);
    const second = await command(world, bot.client, 'checkout-api', PEOPLE.oncall);
    const text = await second.answer();
    expect(text).toMatch(
      /checkout-api\/production is busy: rb-[a-z0-9]{8} \(Roll back checkout-api in production from revision 3 to revision 2, requested by <@U0REQUEST>\) is waiting for approval/,
    );
    expect(await world.redis.keys(`${world.prefix}:req:*`)).toHaveLength(1);
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
    await command(world, bot.client, 'checkout-api');
    const card = await cardAfter(world, 0);
    // A colleague deploys by hand after the plan was made.
    world.prod.update('Deployment', 'shop', 'checkout-api', (d) => {
      d.spec!.template.spec!.containers[0]!.image = 'shop/checkout:1.4.3-hotfix';
    });
    await approve(world, bot, card.ts);
    await waitFor(() => /Failed/.test(cardText(world, card.ts)), { what: 'card failed', timeoutMs: 20_000 });
    expect(cardText(world, card.ts)).toMatch(/plan is stale/);
    expect(patchesOf(world)).toHaveLength(0);
    expect(
      world.prod.get('Deployment', 'shop', 'checkout-api')?.spec?.template.spec?.containers[0]?.image,
    ).toBe('shop/checkout:1.4.3-hotfix');
  });

  it('the rollout stalls: the job fails with the reason and offers Retry; after the cause is fixed, Retry finishes it', async () => {
    world = await createWorld();
    const bot = await world.start();
    world.prod.setRollout('shop', 'checkout-api', { mode: 'stall', after: 1 });
    await command(world, bot.client, 'checkout-api');
    const card = await cardAfter(world, 0);
    await approve(world, bot, card.ts);
    await waitFor(() => /Failed/.test(cardText(world, card.ts)), { what: 'card failed', timeoutMs: 20_000 });
    expect(cardText(world, card.ts)).toContain('exceeded its progress deadline');
    const retry = findButton(world.slack.message(PEOPLE.checkout, card.ts)!.blocks, 'backout_retry');
    world.prod.setRollout('shop', 'checkout-api', { mode: 'converge' });
    world.prod.update('Deployment', 'shop', 'checkout-api', (d) => {
      d.status!.conditions = (d.status?.conditions ?? []).filter((c) => c.type !== 'Progressing');
    });
    await bot.client.blockAction({
      user: PEOPLE.sre2,
      channel: PEOPLE.checkout,
      messageTs: card.ts,
      actionId: retry.actionId,
      value: retry.value,
      responseUrl: world.slack.newResponseUrl(),
    });
    await waitFor(() => /Done — healthy/.test(cardText(world, card.ts)), {
      what: 'card healthy after retry',
      timeoutMs: 30_000,
    });
    expect(patchesOf(world)).toHaveLength(1);
  });

  it('a failing probe and query make the outcome "degraded", with the numbers', async () => {
    world = await createWorld();
    const bot = await world.start();
    world.probe.setStatus(503);
    world.prometheus.set('code=~"5.."', 0.042);
    await command(world, bot.client, 'checkout-api');
    const card = await cardAfter(world, 0);
    await approve(world, bot, card.ts);
    await waitFor(() => /Done — degraded/.test(cardText(world, card.ts)), {
      what: 'card degraded',
      timeoutMs: 30_000,
    });
    const thread = world.slack.transcript(PEOPLE.checkout, card.ts);
    expect(thread).toContain('answered 503');
    expect(thread).toContain('error-rate 0.042 (max 0.005)');
  });

  it('with DRY_RUN, the plan, approval and report happen and nothing is patched', async () => {
    world = await createWorld();
    const bot = await world.start({ DRY_RUN: 'true' });
    await command(world, bot.client, 'checkout-api');
    const card = await cardAfter(world, 0);
    expect(cardText(world, card.ts)).toContain('DRY RUN');
    await approve(world, bot, card.ts);
    await waitFor(() => /Done — dry run/.test(cardText(world, card.ts)), {
      what: 'dry-run report',
      timeoutMs: 30_000,
    });
    expect(patchesOf(world)).toHaveLength(0);
    expect(world.slack.transcript(PEOPLE.checkout, card.ts)).toContain('would have restored revision 2');
  });

  it('"Roll forward" on a finished rollback files a new request back to the revision it left', async () => {
    world = await createWorld();
    const bot = await world.start();
    await command(world, bot.client, 'checkout-api');
    const card = await cardAfter(world, 0);
    await approve(world, bot, card.ts);
    await waitFor(() => /Done — healthy/.test(cardText(world, card.ts)), {
      what: 'rollback done',
      timeoutMs: 30_000,
    });
    const forward = findButton(world.slack.message(PEOPLE.checkout, card.ts)!.blocks, 'backout_undo');
    const url = world.slack.newResponseUrl();
    await bot.client.blockAction({
      user: PEOPLE.requester,
      channel: PEOPLE.checkout,
      messageTs: card.ts,
      actionId: forward.actionId,
      value: forward.value,
      responseUrl: url,
    });
    const answer = await waitFor(() => world.slack.responses(url)[0], { what: 'roll forward answer' });
    expect(JSON.stringify(answer.body)).toMatch(
      /Filed `rb-[a-z0-9]{8}`: Roll forward checkout-api in production from revision 4 to revision 3/,
    );
  });
});
