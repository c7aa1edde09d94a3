import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { LogLevel, WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createDrainer } from '../../src/slack/drain.js';
import { NOTIFY_QUEUE, QueueNotifier } from '../../src/slack/notifier.js';
import { SlackDouble } from '../doubles/slack.js';
import { waitFor } from '../kit/wait.js';
import { deleteKeys } from '../kit/world.js';

const CHANNEL = 'C0DOUBT';
const SETTLE_MS = 1_500;

describe('a thread whose reply is in doubt after a crash', () => {
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

  it('sends edits of posted messages at once, and holds later posts until the doubtful one is settled, in order', async () => {
    const queue = new Queue(NOTIFY_QUEUE, { connection: redis, prefix });
    const notifier = new QueueNotifier(redis, queue, prefix);
    let crashBeforeCall = false;
    const drain = createDrainer({
      redis,
      prefix,
      slack: new WebClient('xoxb-doubt-test', {
        slackApiUrl: slack.apiUrl,
        timeout: 5_000,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        logLevel: LogLevel.ERROR,
      }),
      log: createLogger({ level: 'silent', secrets: [] }),
      metrics: createMetrics(),
      onUndeliverable: () => Promise.resolve(),
      settleMs: SETTLE_MS,
      pace: {
        'chat.postMessage': { burst: 100, windowMs: 1_000 },
        'chat.update': { burst: 100, windowMs: 1_000 },
      },
      // The process dies after recording the attempt and before the request leaves.
      checkpoint: (point, where) => {
        if (crashBeforeCall && point === 'before-call' && where.key === 'd.note1') {
          throw new Error('killed before the call');
        }
      },
    });
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
    expect(slack.allCallsTo('chat.postMessage')).toHaveLength(4);
    expect(slack.allCallsTo('chat.update')).toHaveLength(2);
  });
});
