import { afterEach, describe, expect, it } from 'vitest';
import { cardIn, click, noDuplicateReplies, run, stepNumbers, waitCard } from '../kit/flows.js';
import type { SlackMessage } from '../doubles/slack.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

const LABELS = [
  'Check live state',
  'Hold the service',
  'Pause the GitOps sync',
  'Restore the target',
  'Wait for the rollout',
  'Verify health',
  'Report the outcome',
];

async function filed(world: World): Promise<{ bot: RunningApp; card: SlackMessage }> {
  const bot = await world.start();
  await run(world, bot, '/rollback', 'checkout-api');
  return { bot, card: await cardIn(world) };
}

async function finishedInOrderOnce(world: World, card: SlackMessage) {
  await waitCard(world, card, /Done — healthy/, 60_000);
  await waitFor(
    () => world.slack.thread(card.channel, card.ts).some((m) => /back on revision/.test(m.text)),
    { what: 'outcome note', timeoutMs: 30_000 },
  );
  expect(stepNumbers(world, card)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  const steps = world.slack.thread(card.channel, card.ts).filter((m) => /Step \d\/7/.test(m.text));
  LABELS.forEach((label, i) => expect(steps[i]?.text).toContain(label));
  expect(noDuplicateReplies(world, card)).toBe(true);
  const replies = world.slack.thread(card.channel, card.ts).slice(1);
  expect(world.slack.callsTo('chat.postMessage').filter((c) => c.args.thread_ts === card.ts)).toHaveLength(
    replies.length,
  );
}

describe('the Slack notification path under rate limits and outages', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('Slack answering 429 with Retry-After for a while: every update arrives afterwards, in order, none twice', async () => {
    world = await createWorld();
    const { bot, card } = await filed(world);
    world.slack.rateLimit({ methods: ['chat.postMessage', 'chat.update'], forMs: 3_000, retryAfterSec: 1 });
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await finishedInOrderOnce(world, card);
    expect(world.slack.allCallsTo('chat.postMessage').some((c) => c.status === 429)).toBe(true);
  });

  it('Slack answering 503 for a while: updates are retried and arrive, in order, none twice', async () => {
    world = await createWorld();
    const { bot, card } = await filed(world);
    world.slack.failWith({ methods: ['chat.postMessage', 'chat.update'], forMs: 2_500, status: 503 });
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await finishedInOrderOnce(world, card);
    expect(world.slack.allCallsTo('chat.postMessage').some((c) => c.status === 503)).toBe(true);
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
    expect(await world.redis.get(`${world.prefix}:target:checkout-api/production`)).toBeNull();
  });
});
