import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './client.js';

/**
 * How often a sweep that reads an index also walks the keyspace, for keys an earlier version
 * wrote without indexing them (during a rolling upgrade, say): the first sweep of a process, then
 * once an hour.
 */
export const KEYSPACE_WALK_EVERY_MS = 3_600_000;

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
