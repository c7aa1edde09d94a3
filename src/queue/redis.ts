import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { backoffDelay, REDIS_SIDE_ERROR, type RedisClient } from '../redis/client.js';
import { requireReplicaAck } from '../redis/replica-ack.js';
import type { RepeatLog } from '../redis/repeat-log.js';
import type { RedisTopology } from '../redis/topology.js';

/**
 * Redis connections as BullMQ needs them (see platform.md §9), on any topology:
 * - `command`: web handlers and state stores. No offline queue, so a command fails fast
 *   while Redis is down (or failing over) and the user hears "queue unavailable" inside
 *   Slack's 3 s.
 * - `worker` / `subscriber`: `maxRetriesPerRequest: null`, as BullMQ requires for blocking
 *   connections.
 * All reconnect with capped, jittered backoff (at most 2 s) so a blip or a failover heals
 * without a restart and many processes do not reconnect in lockstep; their errors are
 * logged once per window with a count.
 */
export type RedisRole = 'command' | 'worker' | 'subscriber';

export interface RedisLogging {
  log: Logger;
  repeats: RepeatLog;
}

const RECONNECT = { baseMs: 100, capMs: 2_000 };
/** How long a write waits for a replica's confirmation before it counts as failed. */
export const REPLICA_ACK_TIMEOUT_MS = 2_000;

function roleOptions(role: RedisRole): RedisOptions {
  const common: RedisOptions = {
    // RESP2 keeps BullMQ's Lua scripts and replies exactly as BullMQ tests them.
    protocol: 2,
    connectTimeout: 3_000,
    keepAlive: 10_000,
    // A demoted master answers READONLY until the connection moves: reconnect (Sentinel
    // resolves the new master) and send the command again.
    reconnectOnError: (err) => (/^READONLY\b/.test(err.message) ? 2 : false),
  };
  return role === 'command'
    ? { ...common, maxRetriesPerRequest: 1, commandTimeout: 5_000 }
    : { ...common, maxRetriesPerRequest: null };
}

export function createRedis(topology: RedisTopology, role: RedisRole, logging: RedisLogging): RedisClient {
  const options = roleOptions(role);
  const offlineQueue = role !== 'command';
  const retryStrategy = (times: number) => backoffDelay(times, RECONNECT.baseMs, RECONNECT.capMs);
  let redis: RedisClient;
  switch (topology.kind) {
    case 'standalone':
      redis = new Redis(topology.url, { ...options, enableOfflineQueue: offlineQueue, retryStrategy });
      break;
    case 'sentinel':
      redis = new Redis({
        ...options,
        enableOfflineQueue: offlineQueue,
        retryStrategy,
        sentinels: topology.sentinels,
        name: topology.master,
        role: 'master',
        ...(topology.username ? { username: topology.username } : {}),
        ...(topology.password ? { password: topology.password } : {}),
        ...(topology.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
        // Follow +switch-master as soon as the sentinels announce it, not only on a dropped socket.
        failoverDetector: true,
        sentinelRetryStrategy: (times) => backoffDelay(times, RECONNECT.baseMs, RECONNECT.capMs),
      });
      break;
    case 'cluster': {
      const { reconnectOnError: _own, ...nodeOptions } = options;
      const clusterOptions: ClusterOptions = {
        enableOfflineQueue: offlineQueue,
        clusterRetryStrategy: (times) => backoffDelay(times, RECONNECT.baseMs, RECONNECT.capMs),
        // Every key is on the prefix's slot; reads from replicas could be stale after a write.
        scaleReads: 'master',
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 300,
        retryDelayOnTryAgain: 100,
        slotsRefreshTimeout: 2_000,
        slotsRefreshInterval: 5_000,
        redisOptions: {
          ...nodeOptions,
          ...(topology.username ? { username: topology.username } : {}),
          ...(topology.password ? { password: topology.password } : {}),
          ...(topology.tls ? { tls: {} } : {}),
        },
      };
      redis = new Cluster(topology.nodes, clusterOptions);
      break;
    }
  }
  // Sentinel and Cluster exist to fail over: hold each write until a replica has it (replica-ack.ts).
  if (topology.kind !== 'standalone' && role !== 'subscriber')
    requireReplicaAck(redis, { timeoutMs: REPLICA_ACK_TIMEOUT_MS });
  watch(redis, role, topology, logging);
  return redis;
}

function watch(redis: RedisClient, role: RedisRole, topology: RedisTopology, { log, repeats }: RedisLogging) {
  let wasReady = false;
  redis.on('ready', () => {
    if (wasReady) log.info({ role, topology: topology.kind }, 'redis connection restored');
    wasReady = true;
  });
  redis.on('error', (err: Error) => {
    repeats.warn(
      { role, topology: topology.kind, err: err.message },
      REDIS_SIDE_ERROR.test(err.message) ? 'redis answered an error' : 'redis connection error',
    );
  });
  if (redis instanceof Cluster) {
    redis.on('+node', () => log.debug({ role }, 'redis cluster node added'));
    redis.on('-node', () => log.debug({ role }, 'redis cluster node removed'));
  }
}

/** True when the connection can take commands right now. */
export function isReady(redis: RedisClient): boolean {
  return redis.status === 'ready';
}

/** Resolves once connected, or rejects after `timeoutMs`. */
export async function waitForRedis(redis: RedisClient, timeoutMs: number): Promise<void> {
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
