import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTIFY_QUEUE, QueueNotifier } from '../../src/slack/notifier.js';
import { DrainLock, LockLost } from '../../src/slack/notify-lock.js';
import { SlackDouble } from '../doubles/slack.js';
import { testDrainer, UNPACED } from '../kit/drainer.js';
import { waitFor } from '../kit/wait.js';
import { deleteKeys } from '../kit/world.js';

const CHANNEL = 'C0DOUBT';
const SETTLE_MS = 1_500;

describe('draining a channel: the lock, and posts in doubt', () => {
  let redis: Redis;
  let slack: SlackDouble;
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  beforeAll(async () => {
    redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    slack = await SlackDouble.start();
  });
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
    await slack.stop();
  });

  it('is renewed while held, and refuses every write once another drainer has it', async () => {
    const key = `${prefix}:notify:lock:C0LOCK`;
    const hash = `${prefix}:notify:msg:x`;
    const first = (await DrainLock.acquire(redis, key, 'drain-1', 200))!;
    // Held across several renewals (each pushes the key's expiry back up), well past its 200 ms TTL.
    let renewals = 0;
    let lastTtl = await redis.pttl(key);
    await waitFor(
      async () => {
        const ttl = await redis.pttl(key);
        if (ttl > lastTtl) renewals++;
        lastTtl = ttl;
        return renewals >= 6;
      },
      { what: 'six renewals of the drain lock', intervalMs: 10, timeoutMs: 5_000 },
    );
    expect(first.held).toBe(true);
    expect(await DrainLock.acquire(redis, key, 'drain-2', 200)).toBeUndefined();
    await first.writeHash(hash, { ts: '1.000001' });

    // The same job run again (after a crash) takes its lock back; the earlier run is fenced off.
    const again = (await DrainLock.acquire(redis, key, 'drain-1', 200))!;
    await expect(first.writeHash(hash, { ts: '2.000002' }, ['attemptAt'])).rejects.toBeInstanceOf(LockLost);
    expect(await redis.hget(hash, 'ts')).toBe('1.000001');
    await first.release(); // compare-and-delete: not the new holder's lock
    expect(await redis.get(key)).toBe(again.token);
    await again.release();
    expect(await redis.exists(key)).toBe(0);
  });

  it('a drainer that lost its lock mid-call records nothing; the next one finds the post by its key', async () => {
    const queue = new Queue(NOTIFY_QUEUE, { connection: redis, prefix });
    const notifier = new QueueNotifier(redis, queue, prefix);
    await notifier.post('lost.card', 'C0LOST', { text: 'the card' });
    await queue.close();
    const drainer = testDrainer(
      { redis, prefix, slackApiUrl: slack.apiUrl },
      { lockMs: 300, settleMs: 1_000 },
    );
    // Slack posts at once but answers late; meanwhile another drainer takes the channel over.
    slack.delay({ methods: ['chat.postMessage'], ms: 800, acts: 'before' });
    const lockKey = `${prefix}:notify:lock:C0LOST`;
    const stale = drainer('C0LOST', 'drain-a');
    await waitFor(() => slack.messages('C0LOST').length === 1, { what: 'the post' });
    await redis.set(lockKey, 'drain-b|other', 'PX', 5_000);
    expect(await stale).toBeUndefined();
    expect(await redis.hget(`${prefix}:notify:msg:lost.card`, 'ts')).toBeNull();

    await redis.del(lockKey);
    // Drain again until the outbox is empty, as the drain job would (an early call just answers "later").
    await waitFor(
      async () => {
        await drainer('C0LOST', 'drain-b');
        return (await redis.exists(`${prefix}:notify:lanes:C0LOST`)) === 0;
      },
      { what: 'the outbox of C0LOST to empty', timeoutMs: 10_000 },
    );
    expect(slack.messages('C0LOST').map((m) => m.text)).toEqual(['the card']);
    expect(slack.allCallsTo('chat.postMessage')).toHaveLength(1);
    expect(await redis.hget(`${prefix}:notify:msg:lost.card`, 'ts')).toBe(slack.messages('C0LOST')[0]!.ts);
  });

  it('a reply in doubt after a crash: edits of posted messages go at once, later posts wait until it is settled, in order', async () => {
    const postsBefore = slack.allCallsTo('chat.postMessage').length;
    const editsBefore = slack.allCallsTo('chat.update').length;
    const queue = new Queue(NOTIFY_QUEUE, { connection: redis, prefix });
    const notifier = new QueueNotifier(redis, queue, prefix);
    let crashBeforeCall = false;
    const drain = testDrainer(
      { redis, prefix, slackApiUrl: slack.apiUrl },
      {
        settleMs: SETTLE_MS,
        pace: UNPACED,
        // The process dies after recording the attempt and before the request leaves.
        checkpoint: (point, where) => {
          if (crashBeforeCall && point === 'before-call' && where.key === 'd.note1') {
            throw new Error('killed before the call');
          }
        },
      },
    );
    const text = (ts: string) => slack.message(CHANNEL, ts)?.text;

    await notifier.post('d.card', CHANNEL, { text: 'card: approved' });
    await notifier.reply('d.card', 'd.step', { text: 'step 1 started' });
    expect(await drain(CHANNEL, 'drain-1')).toBeUndefined();
    const [card, step] = slack.messages(CHANNEL);

    crashBeforeCall = true;
    await notifier.reply('d.card', 'd.note1', { text: 'note 1' });
    await expect(drain(CHANNEL, 'drain-2')).rejects.toThrow('killed before the call');
    crashBeforeCall = false;

    // Queued behind the doubtful reply: edits of the card and the step reply, a new reply, an edit of the doubtful one.
    await notifier.update('d.card', { text: 'card: running' });
    await notifier.update('d.step', { text: 'step 1 in progress: round 2' });
    await notifier.reply('d.card', 'd.note2', { text: 'note 2' });
    await notifier.update('d.note1', { text: 'note 1, edited' });
    await queue.close();

    const again = await drain(CHANNEL, 'drain-3');
    expect(again).toBeGreaterThan(0);
    expect(text(card!.ts)).toBe('card: running');
    expect(text(step!.ts)).toBe('step 1 in progress: round 2');
    expect(slack.thread(CHANNEL, card!.ts).map((m) => m.text)).toEqual([
      'card: running',
      'step 1 in progress: round 2',
    ]);

    // Once the doubtful post can no longer land, it is posted (with its latest content), then the rest.
    await waitFor(
      async () => {
        await drain(CHANNEL, 'drain-4');
        return (await redis.exists(`${prefix}:notify:lanes:${CHANNEL}`)) === 0;
      },
      { what: `the outbox of ${CHANNEL} to empty`, timeoutMs: 10_000 },
    );
    expect(slack.thread(CHANNEL, card!.ts).map((m) => m.text)).toEqual([
      'card: running',
      'step 1 in progress: round 2',
      'note 1, edited',
      'note 2',
    ]);
    expect(slack.allCallsTo('chat.postMessage')).toHaveLength(postsBefore + 4);
    expect(slack.allCallsTo('chat.update')).toHaveLength(editsBefore + 2);
  });
});
