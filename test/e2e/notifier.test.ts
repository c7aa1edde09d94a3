import { afterEach, describe, expect, it } from 'vitest';
import { findButton } from '../kit/slack-signing.js';
import { createWorld, PEOPLE, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

const STEPS = [
  'Check live state',
  'Hold the service',
  'Restore the target',
  'Wait for the rollout',
  'Verify health',
  'Report the outcome',
];

async function runRollback(world: World) {
  const bot = await world.start();
  await bot.client.command({
    command: '/rollback',
    text: 'checkout-api',
    user_id: PEOPLE.requester,
    channel_id: PEOPLE.checkout,
  });
  const card = await waitFor(() => world.slack.messages(PEOPLE.checkout).find((m) => !m.thread_ts), {
    what: 'plan card',
    timeoutMs: 30_000,
  });
  const approve = findButton(card.blocks, 'backout_approve');
  return { bot, card, approve };
}

function assertThreadInOrderOnce(world: World, ts: string) {
  const replies = world.slack.thread(PEOPLE.checkout, ts).slice(1);
  const stepReplies = replies.filter((m) => /Step \d\/6/.test(m.text));
  expect(stepReplies.map((m) => Number(/Step (\d)\/6/.exec(m.text)?.[1]))).toEqual([1, 2, 3, 4, 5, 6]);
  STEPS.forEach((label, i) => expect(stepReplies[i]?.text).toContain(label));
  const texts = replies.map((m) => m.text);
  expect(new Set(texts).size).toBe(texts.length);
  const posts = world.slack.callsTo('chat.postMessage').filter((c) => c.args.thread_ts === ts);
  expect(posts).toHaveLength(replies.length);
}

describe('the Slack notification path under rate limits and outages', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('Slack answering 429 with Retry-After for a while: every update arrives afterwards, in order, none twice', async () => {
    world = await createWorld();
    const { bot, card, approve } = await runRollback(world);
    world.slack.rateLimit({ methods: ['chat.postMessage', 'chat.update'], forMs: 3_000, retryAfterSec: 1 });
    await bot.client.blockAction({
      user: PEOPLE.sre1,
      channel: PEOPLE.checkout,
      messageTs: card.ts,
      actionId: approve.actionId,
      value: approve.value,
      responseUrl: world.slack.newResponseUrl(),
    });
    await waitFor(() => /healthy/.test(world.slack.message(PEOPLE.checkout, card.ts)?.text ?? ''), {
      what: 'card healthy',
      timeoutMs: 45_000,
    });
    await waitFor(
      () => world.slack.thread(PEOPLE.checkout, card.ts).some((m) => /back on revision/.test(m.text)),
      { what: 'outcome note' },
    );
    expect(world.slack.allCallsTo('chat.postMessage').some((c) => c.status === 429)).toBe(true);
    assertThreadInOrderOnce(world, card.ts);
  });

  it('Slack answering 500 and 503 for a while: updates are retried and arrive, in order, none twice', async () => {
    world = await createWorld();
    const { bot, card, approve } = await runRollback(world);
    world.slack.failWith({ methods: ['chat.postMessage', 'chat.update'], forMs: 2_500, status: 503 });
    await bot.client.blockAction({
      user: PEOPLE.sre1,
      channel: PEOPLE.checkout,
      messageTs: card.ts,
      actionId: approve.actionId,
      value: approve.value,
      responseUrl: world.slack.newResponseUrl(),
    });
    await waitFor(() => /healthy/.test(world.slack.message(PEOPLE.checkout, card.ts)?.text ?? ''), {
      what: 'card healthy',
      timeoutMs: 60_000,
    });
    await waitFor(
      () => world.slack.thread(PEOPLE.checkout, card.ts).some((m) => /back on revision/.test(m.text)),
      { what: 'outcome note', timeoutMs: 30_000 },
    );
    expect(world.slack.allCallsTo('chat.postMessage').some((c) => c.status === 503)).toBe(true);
    assertThreadInOrderOnce(world, card.ts);
  });

  it('when the bot is not in the channel, the requester is told to /invite it and nothing is left pending', async () => {
    world = await createWorld();
    world.slack.setBotChannels([PEOPLE.incident]);
    const bot = await world.start();
    const url = world.slack.newResponseUrl();
    await bot.client.command({
      command: '/rollback',
      text: 'checkout-api',
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.checkout,
      response_url: url,
    });
    const told = await waitFor(
      () => world.slack.responses(url).find((r) => /invite/.test(JSON.stringify(r.body))),
      { what: 'invite hint' },
    );
    expect(JSON.stringify(told.body)).toMatch(/\/invite @backout/);
    expect(JSON.stringify(told.body)).toMatch(/cancelled; nothing was changed/);
    const holder = await world.redis.get(`${world.prefix}:target:checkout-api/production`);
    expect(holder).toBeNull();
  });
});
