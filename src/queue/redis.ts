import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../observability/logger.js';

/**
 * Redis connections as BullMQ needs them (see platform.md §9):
 * - `command`: web handlers and state stores. No offline queue, so a command fails fast
 *   while Redis is down and the user hears "queue unavailable" inside Slack's 3 s.
 * - `worker`: `maxRetriesPerRequest: null`, as BullMQ requires for blocking connections.
 * Both reconnect quickly (capped at 2 s) so a Redis blip heals without a restart.
 */
export type RedisRole = 'command' | 'worker' | 'subscriber';

export function createRedis(url: string, role: RedisRole, log: Logger): Redis {
  const common: RedisOptions = {
    // RESP2 keeps BullMQ's Lua scripts and replies exactly as BullMQ tests them.
    protocol: 2,
    connectTimeout: 3_000,
    keepAlive: 10_000,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
    lazyConnect: false,
  };
  const options: RedisOptions =
    role === 'worker'
      ? { ...common, maxRetriesPerRequest: null, enableOfflineQueue: true }
      : role === 'subscriber'
        ? { ...common, maxRetriesPerRequest: null, enableOfflineQueue: true }
        : { ...common, maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 5_000 };
  const redis = new Redis(url, options);
  let wasReady = false;
  redis.on('ready', () => {
    if (wasReady) log.info({ role }, 'redis connection restored');
    wasReady = true;
  });
  redis.on('error', (err: Error) => {
    log.warn({ role, err: err.message }, 'redis connection error');
  });
  return redis;
}

/** True when the connection can take commands right now. */
export function isReady(redis: Redis): boolean {
  return redis.status === 'ready';
}

/** Resolves once connected, or rejects after `timeoutMs`. */
export async function waitForRedis(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
