import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { SlackDouble } from '../doubles/slack.js';
import { NOTIFY_QUEUE } from '../../src/slack/notifier.js';
import { deleteKeys } from './world.js';

/** What an outbox test works against: real Redis under a prefix of its own, the Slack double, the notify queue. */
export interface OutboxTestbed {
  readonly prefix: string;
  readonly redis: Redis;
  readonly slack: SlackDouble;
  readonly queue: Queue;
}

/**
 * Sets up an OutboxTestbed before the describe's tests and takes it down (keys, connection,
 * double) after them. Its fields are there once the tests run.
 */
export function outboxTestbed(): OutboxTestbed {
  const bed = { prefix: `test-${randomUUID().slice(0, 8)}` } as {
    -readonly [K in keyof OutboxTestbed]: OutboxTestbed[K];
  };
  beforeAll(async () => {
    bed.redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    bed.slack = await SlackDouble.start();
    bed.queue = new Queue(NOTIFY_QUEUE, { connection: bed.redis, prefix: bed.prefix });
  });
  afterAll(async () => {
    await bed.queue.close();
    await deleteKeys(bed.redis, bed.prefix);
    bed.redis.disconnect();
    await bed.slack.stop();
  });
  return bed;
}
