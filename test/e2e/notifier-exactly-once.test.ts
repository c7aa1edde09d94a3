import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { connectRedis } from '../../src/cli/context.js';
import { notifierChecks } from '../../src/doctor/notifier.js';
import { cardKey } from '../../src/requests/card-view.js';
import { NOTIFY_QUEUE, QueueNotifier } from '../../src/slack/notifier.js';
import { readDeadLetters } from '../../src/slack/dead-letters.js';
import { cardIn, click, noDuplicateReplies, run, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type World } from '../kit/world.js';

const ORDERS = `  orders:
    environments:
      production:
        kubernetes: { context: prod, namespace: shop, deployment: orders }
        channel: ${PEOPLE.checkout}
`;

const requestIdOf = (blocks: unknown) => /`(rb-[a-z0-9]{8})`/.exec(JSON.stringify(blocks))?.[1];

async function outboxEmpty(world: World, channel: string): Promise<boolean> {
  return (await world.redis.exists(`${world.prefix}:notify:lanes:${channel}`)) === 0;
}

describe('the notifier delivers every message exactly once, and never lets one message hold up the rest', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it(
    'Slack accepting a card only after 12 s (the client gave up at 10 s): one card, found by its key, not posted again',
    { timeout: 60_000 },
    async () => {
      world = await createWorld();
      const bot = await world.start();
      world.slack.delay({ methods: ['chat.postMessage'], ms: 12_000, acts: 'after' });
      const asked = Date.now();
      await run(world, bot, '/rollback', 'checkout-api');
      const card = await cardIn(world, PEOPLE.checkout, 0, 30_000);
      expect(Date.now() - asked).toBeGreaterThanOrEqual(11_000);
      await waitFor(() => outboxEmpty(world, PEOPLE.checkout), {
        what: 'the outbox to empty',
        timeoutMs: 15_000,
      });

      // It looked the key up rather than post blind, and recorded the ts Slack gave the one card.
      expect(world.slack.callsTo('conversations.history').length).toBeGreaterThan(0);
      expect(world.slack.callsTo('conversations.history')[0]!.args.include_all_metadata).toBe(true);
      expect(world.slack.messages(PEOPLE.checkout)).toHaveLength(1);
      expect(world.slack.allCallsTo('chat.postMessage')).toHaveLength(1);
      expect(card.metadata).toEqual({
        event_type: 'backout_outbox_message',
        event_payload: { key: cardKey(requestIdOf(card.blocks)!) },
      });
      // The recorded ts is the real card's: approving edits it in place.
      await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
      await waitCard(world, card, /Approved by|Running|Done/, 20_000);
      expect(world.slack.messages(PEOPLE.checkout).filter((m) => !m.thread_ts)).toHaveLength(1);
    },
  );

  it(
    'a reply Slack refuses for good goes to the dead-letter list; the rest of the thread and the next card still arrive within seconds',
    { timeout: 90_000 },
    async () => {
      world = await createWorld();
      const bot = await world.start();
      // Step 1's reply is refused as it is, and as plain text too.
      world.slack.refuse({
        methods: ['chat.postMessage'],
        error: 'cannot_reply_to_message',
        when: (args) => JSON.stringify(args).includes('Step 1/7'),
      });
      await run(world, bot, '/rollback', 'checkout-api');
      const card = await cardIn(world);
      await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
      const refusedAt = (
        await waitFor(
          () => world.slack.allCallsTo('chat.postMessage').find((c) => c.error === 'cannot_reply_to_message'),
          { what: 'the refusal', timeoutMs: 20_000 },
        )
      ).at;
      const step2 = await waitFor(
        () => world.slack.thread(card.channel, card.ts).find((m) => /Step 2\/7/.test(m.text)),
        { what: 'step 2 after the refused step 1', timeoutMs: 10_000 },
      );
      expect(Number(step2.ts) * 1000 - refusedAt).toBeLessThan(5_000);
      await waitCard(world, card, /Done — healthy/, 60_000);
      expect(world.slack.thread(card.channel, card.ts).some((m) => /Step 1\/7/.test(m.text))).toBe(false);
      expect(noDuplicateReplies(world, card)).toBe(true);
      // Tried as it was, then as plain text; never again.
      expect(
        world.slack.allCallsTo('chat.postMessage').filter((c) => JSON.stringify(c.args).includes('Step 1/7')),
      ).toHaveLength(2);

      const dead = await readDeadLetters(world.redis, world.prefix);
      expect(dead.total).toBe(1);
      expect(dead.newest[0]).toMatchObject({
        channel: PEOPLE.checkout,
        method: 'chat.postMessage',
        error: 'cannot_reply_to_message',
        fallback: 'refused too (cannot_reply_to_message)',
      });
      const metrics = await (await fetch(`http://127.0.0.1:${bot.app.port}/metrics`)).text();
      expect(metrics).toMatch(
        /backout_slack_dead_letters_total\{method="chat\.postMessage",error="cannot_reply_to_message"\} 1/,
      );
      expect(bot.logs.join('')).toMatch(/moved it to the dead-letter list/);
      const [note] = await notifierChecks(() => connectRedis('redis://127.0.0.1:6379'), world.prefix);
      expect(note).toMatchObject({ area: 'slack', name: 'dead letters', status: 'warn' });
      expect(note!.message).toMatch(
        /^1 message Slack refused for good .*chat\.postMessage: cannot_reply_to_message/,
      );

      // The channel is not blocked: a new request's card arrives at once.
      const before = Date.now();
      await run(world, bot, '/rollback', 'checkout-api --reason again');
      await cardIn(world, PEOPLE.checkout, 1, 5_000);
      expect(Date.now() - before).toBeLessThan(3_000);
    },
  );

  it(
    'a new Approve card appears within 2 s while another job’s thread has 30 replies queued in the same channel',
    { timeout: 60_000 },
    async () => {
      // A second service whose cards go to the same channel; Slack's real pace, so the replies queue up.
      world = await createWorld({ config: (w) => defaultConfigYaml(w, ORDERS), realSlackPace: true });
      world.prod.addDeployment({
        namespace: 'shop',
        name: 'orders',
        replicas: 2,
        containers: [
          [{ name: 'app', image: 'shop/orders:2.0.0' }],
          [{ name: 'app', image: 'shop/orders:2.0.1' }],
        ],
      });
      const bot = await world.start();
      await run(world, bot, '/rollback', 'checkout-api');
      const first = await cardIn(world);
      const firstId = requestIdOf(first.blocks)!;

      // Another job's thread: 30 replies queued at once through the same outbox.
      const queue = new Queue(NOTIFY_QUEUE, { connection: world.redis, prefix: world.prefix });
      const notifier = new QueueNotifier(world.redis, queue, world.prefix);
      for (let i = 1; i <= 30; i++) {
        await notifier.reply(cardKey(firstId), `${firstId}.backlog.${i}`, { text: `backlog ${i} of 30` });
      }
      await queue.close();
      await waitFor(() => world.slack.thread(first.channel, first.ts).length > 1, {
        what: 'the backlog to start',
      });

      const asked = Date.now();
      await run(world, bot, '/rollback', 'orders');
      // From the moment the card is queued (planning, which reads the cluster, comes before that).
      const lanes = `${world.prefix}:notify:lanes:${PEOPLE.checkout}`;
      let queuedAt: number | undefined;
      const second = await waitFor(
        async () => {
          const card = world.slack.messages(PEOPLE.checkout).filter((m) => !m.thread_ts)[1];
          if (card) return card;
          const waiting = await world.redis.zrange(lanes, '0', '-1');
          if (
            queuedAt === undefined &&
            waiting.some((l) => l.startsWith('key:rb-') && !l.includes(firstId))
          ) {
            queuedAt = Date.now();
          }
          return undefined;
        },
        { what: 'the second card', timeoutMs: 10_000, intervalMs: 10 },
      );
      expect(Date.now() - (queuedAt ?? asked)).toBeLessThan(2_000);
      expect(second.blocks && JSON.stringify(second.blocks)).toContain('backout_approve');
      const replies = world.slack.thread(first.channel, first.ts).slice(1);
      expect(replies.length).toBeLessThan(30);

      // The backlog keeps its order, at Slack's pace, each reply once.
      const some = await waitFor(
        () => {
          const r = world.slack.thread(first.channel, first.ts).slice(1);
          return r.length >= 6 && r;
        },
        { what: 'more of the backlog', timeoutMs: 15_000 },
      );
      expect(some.map((m) => m.text)).toEqual(some.map((_, i) => `backlog ${i + 1} of 30`));
      // About one post a second: never more than 3 in a 3 s window (less a little arrival jitter).
      const posts = world.slack.callsTo('chat.postMessage').map((c) => c.at);
      for (let i = 3; i < posts.length; i++) expect(posts[i]! - posts[i - 3]!).toBeGreaterThanOrEqual(2_500);
    },
  );
});
