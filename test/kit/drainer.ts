import { LogLevel, WebClient } from '@slack/web-api';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createDrainer, type DrainDeps } from '../../src/slack/drain.js';
import type { RedisClient } from '../../src/redis/client.js';

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
  overrides: Partial<Pick<DrainDeps, 'lockMs' | 'settleMs' | 'pace' | 'checkpoint' | 'bell'>> = {},
) {
  return createDrainer(testDrainDeps(opts, overrides));
}

/** What `testDrainer` builds its drainer from, for tests of the notify queue's processor. */
export function testDrainDeps(
  opts: { redis: RedisClient; prefix: string; slackApiUrl: string },
  overrides: Partial<Pick<DrainDeps, 'lockMs' | 'settleMs' | 'pace' | 'checkpoint' | 'bell'>> = {},
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
