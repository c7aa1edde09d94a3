import type { RedisClient } from '../redis/client.js';
import { readDeadLetters } from '../slack/dead-letters.js';
import { messageOf, ok, warn, withTimeout, type CheckResult } from './check.js';
import { plural } from '../text/plural.js';

const TIMEOUT_MS = 5_000;

/**
 * The notifier's dead-letter list: messages Slack refused for good. They never block a
 * channel, but each one is a card, step or note that nobody saw as it was meant.
 */
export async function notifierChecks(
  connect: () => Promise<RedisClient>,
  prefix: string,
): Promise<CheckResult[]> {
  let redis: RedisClient | undefined;
  try {
    redis = await connect();
    const { total, newest } = await withTimeout(
      readDeadLetters(redis, prefix, 3),
      TIMEOUT_MS,
      'Redis LRANGE',
    );
    if (total === 0) return [ok('slack', 'dead letters', 'no message was refused by Slack for good')];
    const examples = newest
      .map(
        (d) =>
          `${d.key} in ${d.channel} (${d.method}: ${d.error}; plain text: ${d.fallback}; ${new Date(d.at).toISOString()})`,
      )
      .join('; ');
    return [
      warn(
        'slack',
        'dead letters',
        `${plural(total, 'message')} Slack refused for good and backout set aside so the rest of their channel went on; newest: ${examples}`,
        `read the log lines "moved it to the dead-letter list" for each; invite the bot or fix the channel for not_in_channel/channel_not_found, report other errors as a bug; the list is ${prefix}:notify:dead (LRANGE to read, DEL once handled)`,
      ),
    ];
  } catch (err) {
    // Redis itself is checked (and its failure explained) under "redis".
    return [
      warn(
        'slack',
        'dead letters',
        `cannot read the dead-letter list: ${messageOf(err)}`,
        'fix the Redis connection (see the redis checks), then run doctor again',
      ),
    ];
  } finally {
    redis?.disconnect();
  }
}
