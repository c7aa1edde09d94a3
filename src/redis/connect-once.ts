import { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './client.js';
import { describeTopology, type RedisTopology } from './topology.js';

/**
 * A connection for a one-shot command (doctor, audit verify, report): fails fast instead of
 * retrying forever, on any topology.
 */
export async function connectOnce(topology: RedisTopology, timeoutMs = 3_000): Promise<RedisClient> {
  const node = {
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 1,
    protocol: 2 as const,
    ...(topology.kind !== 'standalone' && topology.username ? { username: topology.username } : {}),
    ...(topology.kind !== 'standalone' && topology.password ? { password: topology.password } : {}),
    ...(topology.kind !== 'standalone' && topology.tls ? { tls: {} } : {}),
  };
  const client: RedisClient =
    topology.kind === 'standalone'
      ? new Redis(topology.url, { ...node, lazyConnect: true, retryStrategy: () => null })
      : topology.kind === 'sentinel'
        ? new Redis({
            ...node,
            lazyConnect: true,
            retryStrategy: () => null,
            sentinels: topology.sentinels,
            name: topology.master,
            sentinelRetryStrategy: () => null,
            ...(topology.tls ? { sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
          })
        : new Cluster(topology.nodes, {
            lazyConnect: true,
            clusterRetryStrategy: () => null,
            slotsRefreshTimeout: timeoutMs,
            redisOptions: node,
          });
  client.on('error', () => undefined);
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs + 1_000).unref(),
      ),
    ]);
  } catch (err) {
    client.disconnect();
    throw new Error(
      `cannot reach Redis at ${describeTopology(topology)}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  return client;
}
