import type { RedisClient } from '../redis/client.js';
import { z } from 'zod';
import { notifyKeys } from './notifier.js';

/** How many dead letters are kept (newest first). */
const KEEP = 1000;

const deadLetterSchema = z.object({
  key: z.string(),
  channel: z.string(),
  method: z.string(),
  error: z.string(),
  fallback: z.string(),
  at: z.number(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;

/** Keeps a message Slack refused for good where operators (and `backout doctor`) can see it. */
export async function recordDeadLetter(
  redis: RedisClient,
  prefix: string,
  letter: Omit<DeadLetter, 'at'>,
): Promise<void> {
  const key = notifyKeys(prefix).dead();
  await redis
    .multi()
    .lpush(key, JSON.stringify({ ...letter, at: Date.now() }))
    .ltrim(key, 0, KEEP - 1)
    .exec();
}

/** The newest dead letters, and how many are kept in all. */
export async function readDeadLetters(
  redis: RedisClient,
  prefix: string,
  limit = 5,
): Promise<{ total: number; newest: DeadLetter[] }> {
  const key = notifyKeys(prefix).dead();
  const [total, raw] = await Promise.all([redis.llen(key), redis.lrange(key, 0, limit - 1)]);
  const newest = raw.flatMap((r) => {
    try {
      const parsed = deadLetterSchema.safeParse(JSON.parse(r));
      return parsed.success ? [parsed.data] : [];
    } catch {
      return [];
    }
  });
  return { total, newest };
}
