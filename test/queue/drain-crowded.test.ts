import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTIFY_QUEUE, QueueNotifier } from '../../src/slack/notifier.js';
import { createDrainProcessor } from '../../src/slack/notify-worker.js';
import { SlackDouble } from '../doubles/slack.js';
import { expectSlackPace, postsIn, SLACK_PACE, testDrainDeps } from '../kit/drainer.js';
import { waitFor } from '../kit/wait.js';
import { deleteKeys } from '../kit/world.js';

const SLOTS = 2;
const BUSY = ['C0BUSYA', 'C0BUSYB', 'C0BUSYC'];
const REPLIES = 4;

describe('drains when every slot is taken', () => {
  let redis: Redis;
  let workerRedis: Redis;
  let slack: SlackDouble;
  let queue: Queue;
  let worker: Worker;
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  beforeAll(async () => {
    redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    workerRedis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
    slack = await SlackDouble.start();
    queue = new Queue(NOTIFY_QUEUE, { connection: redis, prefix });
  });
  afterAll(async () => {
    await worker?.close();
    await queue.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
    workerRedis.disconnect();
    await slack.stop();
  });

  const texts = (channel: string) => slack.messages(channel).map((m) => m.text);
  const posts = (channel: string) => postsIn(slack, channel);

  it('a drain waiting for Slack’s pace gives its slot up, so more busy channels than slots all move and a new card is not held behind them', async () => {
    const notifier = new QueueNotifier(redis, queue, prefix);
    // More busy channels than slots, each a card and replies that must go a second apart.
    for (const channel of BUSY) {
      await notifier.post(`${channel}.card`, channel, { text: 'card' });
      for (let i = 1; i <= REPLIES; i++)
        await notifier.reply(`${channel}.card`, `${channel}.r${i}`, { text: `reply ${i}` });
    }
    const deps = testDrainDeps({ redis, prefix, slackApiUrl: slack.apiUrl }, { pace: SLACK_PACE });
    const processor = createDrainProcessor(deps, SLOTS);
    worker = new Worker(NOTIFY_QUEUE, processor, { connection: workerRedis, prefix, concurrency: SLOTS });

    // Every busy channel gets its card and first reply out, though only two drains run at once:
    // a drain that had to wait a second for its next reply let the third channel in.
    await waitFor(() => BUSY.every((c) => texts(c).includes('reply 1')), {
      timeoutMs: 10_000,
      what: 'the first reply in every busy channel',
    });
    expect(BUSY.some((c) => texts(c).includes(`reply ${REPLIES}`))).toBe(false);
    // A channel that gave its slot up keeps its lock for the drain's next run: what is queued
    // there meanwhile adds no drain job of its own.
    const held = await Promise.all(BUSY.map((c) => redis.exists(`${prefix}:notify:lock:${c}`)));
    expect(held).toEqual(BUSY.map(() => 1));
    const jobsBefore = (await queue.getJobs(['waiting', 'delayed', 'active'])).length;
    await notifier.reply(`${BUSY[0]}.card`, `${BUSY[0]}.late`, { text: 'late reply' });
    expect((await queue.getJobs(['waiting', 'delayed', 'active'])).length).toBe(jobsBefore);

    // A card in a quiet channel goes out at once, not after the busy channels' replies.
    const queuedAt = Date.now();
    await notifier.post('C0QUIET.card', 'C0QUIET', { text: 'new incident' });
    await waitFor(() => texts('C0QUIET').includes('new incident'), {
      timeoutMs: 5_000,
      what: 'the card in the quiet channel',
    });
    expect(posts('C0QUIET')[0]!.at - queuedAt).toBeLessThan(1_500);
    expect(BUSY.some((c) => texts(c).includes(`reply ${REPLIES}`))).toBe(false);

    // Everything is delivered, each thread in order, within Slack's pace as Slack saw it (less
    // 100 ms for the calls' own transit).
    await waitFor(
      () => texts(BUSY[0]!).includes('late reply') && BUSY.every((c) => texts(c).length >= 1 + REPLIES),
      {
        timeoutMs: 20_000,
        what: 'every reply',
      },
    );
    for (const channel of BUSY) {
      const card = slack.messages(channel).find((m) => m.text === 'card')!;
      const expected = ['card', ...Array.from({ length: REPLIES }, (_, i) => `reply ${i + 1}`)];
      if (channel === BUSY[0]) expected.push('late reply');
      expect(slack.thread(channel, card.ts).map((m) => m.text)).toEqual(expected);
      const sent = posts(channel);
      expect(sent).toHaveLength(expected.length);
      expectSlackPace(sent);
    }
    // Counted, so an operator sees when one process's drain slots are not enough.
    expect(await deps.metrics.registry.getSingleMetricAsString('backout_outbox_drain_yields_total')).toMatch(
      /backout_outbox_drain_yields_total [1-9]/,
    );
    // Drained: the locks are let go and no drain job is left behind.
    await waitFor(
      async () =>
        (await queue.getJobs(['waiting', 'delayed', 'active'])).length === 0 &&
        (await Promise.all(BUSY.map((c) => redis.exists(`${prefix}:notify:lock:${c}`)))).every(
          (n) => n === 0,
        ),
      { timeoutMs: 10_000, what: 'the drains to end' },
    );
  });
});
