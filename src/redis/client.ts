import { Cluster, type Redis } from 'ioredis';

/** A connection to backout's Redis: one server (standalone or through Sentinel) or a Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * Errors Redis answers while it cannot serve this prefix here: a Cluster node that does not
 * own the slot (MOVED/ASK), keys across slots (CROSSSLOT), a replica (READONLY), a cluster or
 * master in transition, a loading or full server. Retrying at once only repeats them.
 */
export const REDIS_SIDE_ERROR =
  /^(?:ReplyError: )?(MOVED|ASK|CROSSSLOT|READONLY|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|LOADING|NOREPLICAS|OOM|BUSY)\b/;

/** Capped, jittered exponential backoff: `attempt` 1, 2, … → a delay in [cap/2, cap] once capped. */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 20));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Another connection with the same settings (pub/sub needs its own). */
export function duplicateClient(redis: RedisClient): RedisClient {
  return redis instanceof Cluster ? redis.duplicate() : redis.duplicate();
}
