import { LogLevel, WebClient } from '@slack/web-api';
import { expect } from 'vitest';
import type { SlackDouble } from '../doubles/slack.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createDrainer, type DrainDeps } from '../../src/slack/drain.js';
import type { RedisClient } from '../../src/redis/client.js';

/** Slack's own pace: a thread reply waits about a second for its slot; a card may use the burst. */
export const SLACK_PACE = {
  'chat.postMessage': { burst: 3, windowMs: 3_000 },
  'chat.update': { burst: 4, windowMs: 2_000 },
};

/** The posts Slack accepted in `channel`, in order: when, and whether each was a thread reply. */
export function postsIn(slack: SlackDouble, channel: string): { at: number; reply: boolean }[] {
  return slack
    .allCallsTo('chat.postMessage')
    .filter((c) => c.args.channel === channel && c.ok)
    .map((c) => ({ at: c.at, reply: c.args.thread_ts !== undefined }));
}

/**
 * Slack's pace held as Slack saw it (less 100 ms for the calls' own transit): at most 3 posts in
 * 3 s, thread replies about a second apart.
 */
export function expectSlackPace(posts: { at: number; reply: boolean }[]): void {
  posts.forEach((p, i) => {
    expect(posts.filter((q) => q.at > p.at - 2_900 && q.at <= p.at).length).toBeLessThanOrEqual(3);
    const previousReply = posts.slice(0, i).findLast((q) => q.reply);
    if (p.reply && previousReply) expect(p.at - previousReply.at).toBeGreaterThanOrEqual(900);
  });
}

/** What a test may set of a drainer's dependencies (time compressed, a shared bell). */
type DrainOverrides = Partial<Pick<DrainDeps, 'lockMs' | 'settleMs' | 'pace' | 'checkpoint' | 'bell'>>;

/** No pacing to speak of: tests of delivery semantics, not of Slack's pace. */
export const UNPACED = {
  'chat.postMessage': { burst: 100, windowMs: 1_000 },
  'chat.update': { burst: 100, windowMs: 1_000 },
};

/**
 * The notifier's drainer on its own (no BullMQ), against a Slack double's Web API, quiet, with a
 * client that never retries by itself (as backout's notify client). `overrides` compress time.
 */
export function testDrainer(
  opts: { redis: RedisClient; prefix: string; slackApiUrl: string },
  overrides: DrainOverrides = {},
) {
  return createDrainer(testDrainDeps(opts, overrides));
}

/** What `testDrainer` builds its drainer from, for tests of the notify queue's processor. */
export function testDrainDeps(
  opts: { redis: RedisClient; prefix: string; slackApiUrl: string },
  overrides: DrainOverrides = {},
): DrainDeps {
  return {
    redis: opts.redis,
    prefix: opts.prefix,
    slack: new WebClient('xoxb-drain-test', {
      slackApiUrl: opts.slackApiUrl,
      timeout: 5_000,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      logLevel: LogLevel.ERROR,
    }),
    log: createLogger({ level: 'silent', secrets: [] }),
    metrics: createMetrics(),
    onUndeliverable: () => Promise.resolve(),
    ...overrides,
  };
}
