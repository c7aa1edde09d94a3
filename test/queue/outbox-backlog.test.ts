import { describe, expect, it, vi } from 'vitest';
import { KEYSPACE_WALK_EVERY_MS } from '../../src/redis/scan.js';
import { QueueNotifier } from '../../src/slack/notifier.js';
import { backlogReader } from '../../src/slack/notify-worker.js';
import { testDrainer } from '../kit/drainer.js';
import { outboxTestbed } from '../kit/outbox-testbed.js';

describe('the outbox backlog index: which channels the sweep drains, without walking the keyspace', () => {
  const bed = outboxTestbed();
  const backlog = `${bed.prefix}:notify:backlog`;

  it('a channel enters with its first entry and leaves once its last lane is delivered', async () => {
    const { redis, slack, queue, prefix } = bed;
    const notifier = new QueueNotifier(redis, queue, prefix);
    await notifier.post('one.card', 'C0ONE', { text: 'card one' });
    await notifier.post('one.other', 'C0ONE', { text: 'another card' });
    await notifier.reply('one.card', 'one.r1', { text: 'reply' });
    await notifier.post('two.card', 'C0TWO', { text: 'card two' });
    expect((await redis.smembers(backlog)).sort()).toEqual(['C0ONE', 'C0TWO']);
    const channelsWithBacklog = backlogReader(redis, prefix);
    expect((await channelsWithBacklog()).sort()).toEqual(['C0ONE', 'C0TWO']);

    const drain = testDrainer({ redis, prefix, slackApiUrl: slack.apiUrl });
    expect(await drain('C0ONE', 'drain-one')).toBeUndefined();
    expect(
      slack
        .messages('C0ONE')
        .map((m) => m.text)
        .sort(),
    ).toEqual(['another card', 'card one', 'reply']);
    // Delivered: C0ONE has no lane left and is out of the index; C0TWO still waits.
    expect(await redis.exists(`${prefix}:notify:lanes:C0ONE`)).toBe(0);
    expect(await redis.smembers(backlog)).toEqual(['C0TWO']);
    expect(await channelsWithBacklog()).toEqual(['C0TWO']);
  });

  it('finds, on its first call and hourly, an outbox filled without the index; a stale entry leaves the index', async () => {
    const { redis, queue, prefix } = bed;
    // As a version without the index left it: the lanes, and no index entry.
    await new QueueNotifier(redis, queue, prefix).post('old.card', 'C0OLD', { text: 'old card' });
    await redis.srem(backlog, 'C0OLD');
    // And an index entry whose outbox is gone.
    await redis.sadd(backlog, 'C0GONE');
    const fresh = backlogReader(redis, prefix);
    expect((await fresh()).sort()).toEqual(['C0OLD', 'C0TWO']);
    expect((await redis.smembers(backlog)).sort()).toEqual(['C0OLD', 'C0TWO']);

    // An older replica still running (a rolling upgrade) fills one more without the index: later
    // calls read the index alone, and the hourly walk of the keyspace finds it.
    await new QueueNotifier(redis, queue, prefix).post('older.card', 'C0OLDER', { text: 'older card' });
    await redis.srem(backlog, 'C0OLDER');
    expect((await fresh()).sort()).toEqual(['C0OLD', 'C0TWO']);
    const clock = vi.spyOn(Date, 'now').mockReturnValue(Date.now() + KEYSPACE_WALK_EVERY_MS);
    try {
      expect((await fresh()).sort()).toEqual(['C0OLD', 'C0OLDER', 'C0TWO']);
    } finally {
      clock.mockRestore();
    }
  });
});
