import { createHash } from 'node:crypto';
import type { RedisClient } from './client.js';

const shas = new Map<string, string>();

/**
 * Runs a Lua script by its SHA1 (EVALSHA) and sends its text only when the server does not
 * have it yet (NOSCRIPT: the first call, or after a restart, a failover or on a new Cluster
 * node). A NOSCRIPT reply ran nothing, so sending the text then runs the script once.
 */
export async function runScript(
  redis: RedisClient,
  script: string,
  numKeys: number,
  ...args: (string | number)[]
): Promise<unknown> {
  let sha = shas.get(script);
  if (sha === undefined) {
    sha = createHash('sha1').update(script).digest('hex');
    shas.set(script, sha);
  }
  try {
    return await redis.evalsha(sha, numKeys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return redis.eval(script, numKeys, ...args);
  }
}
