import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './client.js';

/**
 * How often a sweep that reads an index also walks the keyspace, for keys an earlier version
 * wrote without indexing them (during a rolling upgrade, say): the first sweep of a process, then
 * once an hour.
 */
export const KEYSPACE_WALK_EVERY_MS = 3_600_000;

/**
 * For an index (a set of names) that the scripts writing `keyPrefix<name>` keys keep: adds the
 * names of the keys there are now, on the first call and then at most once per
 * KEYSPACE_WALK_EVERY_MS, so that keys written without the index are found too. Reading the index
 * otherwise costs nothing per key of the whole Redis, as a walk does (seconds, on a Redis shared
 * with millions of keys). The walk visits every master (scanKeys).
 */
export function indexCatchUp(
  redis: RedisClient,
  keyPrefix: string,
  indexKey: string,
  count = 200,
): () => Promise<void> {
  let walkedAt = Number.NEGATIVE_INFINITY;
  return async () => {
    if (Date.now() - walkedAt < KEYSPACE_WALK_EVERY_MS) return;
    const names = (await scanKeys(redis, `${keyPrefix}*`, count)).map((k) => k.slice(keyPrefix.length));
    if (names.length > 0) await redis.sadd(indexKey, ...names);
    walkedAt = Date.now();
  };
}

/**
 * Every key matching `pattern`. SCAN walks one server's keyspace: on Cluster a SCAN sent
 * through the client reaches one node, so each master is walked in turn.
 */
export async function scanKeys(redis: RedisClient, pattern: string, count = 200): Promise<string[]> {
  const servers: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const out: string[] = [];
  for (const server of servers) {
    let cursor = '0';
    do {
      const [next, found] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      out.push(...found);
    } while (cursor !== '0');
  }
  return out;
}
