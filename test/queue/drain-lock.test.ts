import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { LogLevel, WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createDrainer } from '../../src/slack/drain.js';
import { NOTIFY_QUEUE, QueueNotifier } from '../../src/slack/notifier.js';
import { DrainLock, LockLost } from '../../src/slack/notify-lock.js';
import { SlackDouble } from '../doubles/slack.js';
import { waitFor } from '../kit/wait.js';
import { deleteKeys } from '../kit/world.js';

describe('the drain lock', () => {
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
    const drainer = createDrainer({
      redis,
      prefix,
      slack: new WebClient('xoxb-lock-test', {
        slackApiUrl: slack.apiUrl,
        timeout: 5_000,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        logLevel: LogLevel.ERROR,
      }),
      log: createLogger({ level: 'silent', secrets: [] }),
      metrics: createMetrics(),
      onUndeliverable: () => Promise.resolve(),
      lockMs: 300,
      settleMs: 1_000,
    });
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
});
