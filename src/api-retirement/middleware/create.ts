import { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../../redis/client.js';
import { effectivePrefix } from '../../redis/prefix.js';
import { clientIdResolver, type ClientIdOption } from '../client-id.js';
import type { DeprecationEntry } from '../entry.js';
import type { RequestFacts } from '../match.js';
import { DEFAULT_PREFIX } from '../keys.js';
import { RegistryCache } from '../registry-cache.js';
import { UsageRecorder, type UsageStats } from '../usage-recorder.js';
import { DeprecationEngine, type Outcome } from './engine.js';
import { expressMiddleware, type ExpressMiddleware } from './express.js';
import {
  fastifyOnRequest,
  fastifyPlugin,
  type FastifyDeprecationPlugin,
  type FastifyOnRequestHook,
} from './fastify.js';
import { nodeMiddleware, type NodeMiddleware } from './node.js';

export interface DeprecationMiddlewareOptions {
  /**
   * A connection (shared, never closed by the middleware) or a Redis URL (owned and closed).
   * For Sentinel or Cluster pass an ioredis `Redis` (with `sentinels`) or `Cluster`.
   */
  redis: RedisClient | string;
  service: string;
  prefix?: string;
  clientId?: ClientIdOption;
  now?: () => Date;
  random?: () => number;
  onError?: (err: unknown) => void;
  usage?: { maxClientsPerDay?: number; ttlDays?: number; flushIntervalMs?: number; writeTimeoutMs?: number };
  registry?: { pollMs?: number; loadTimeoutMs?: number; retry?: { minMs?: number; maxMs?: number } };
}

export interface DeprecationMiddleware {
  node: NodeMiddleware;
  express: ExpressMiddleware;
  /** `app.register(mw.fastify)`. */
  fastify: FastifyDeprecationPlugin;
  /** `app.addHook('onRequest', mw.fastifyOnRequest)`, for a single encapsulated context. */
  fastifyOnRequest: FastifyOnRequestHook;
  /** The decision for one request (match, count, decide), for adapters of your own such as a proxy. */
  evaluate(facts: RequestFacts): Outcome;
  /** True once the registry has loaded, false if `timeoutMs` passed first (the service can start anyway). */
  whenReady(timeoutMs?: number): Promise<boolean>;
  entries(): readonly DeprecationEntry[];
  stats(): UsageStats & { registryVersion: number };
  flushUsage(): Promise<void>;
  close(): Promise<void>;
}

export function createDeprecationMiddleware(options: DeprecationMiddlewareOptions): DeprecationMiddleware {
  const onError = options.onError ?? (() => undefined);
  const owned = typeof options.redis === 'string';
  // One retry per command: usage writes and loads fail fast and are retried by their own schedules.
  const redis =
    typeof options.redis === 'string' ? new Redis(options.redis, { maxRetriesPerRequest: 1 }) : options.redis;
  if (redis.options.keyPrefix) {
    // ioredis would prefix the registry keys but not the change channel, so nothing would match backout's.
    throw new Error('createDeprecationMiddleware needs a Redis connection without keyPrefix; use `prefix`');
  }
  if (owned) redis.on('error', onError);
  // On Cluster backout hash-tags its prefix (`backout` → `{backout}`); read the same keys.
  const decided = effectivePrefix(options.prefix ?? DEFAULT_PREFIX, redis instanceof Cluster);
  if (!decided.ok) throw new Error(`createDeprecationMiddleware: ${decided.problem}`);
  const prefix = decided.prefix;

  const cache = new RegistryCache({ redis, service: options.service, prefix, onError, ...options.registry });
  const recorder = new UsageRecorder({ redis, service: options.service, prefix, onError, ...options.usage });
  const engine = new DeprecationEngine({
    entries: () => cache.entries(),
    clientId: clientIdResolver(options.clientId),
    record: (entryId, client, at) => recorder.record(entryId, client, at),
    now: options.now ?? (() => new Date()),
    random: options.random ?? Math.random,
    onError,
  });

  return {
    node: nodeMiddleware(engine),
    express: expressMiddleware(engine),
    fastify: fastifyPlugin(engine),
    fastifyOnRequest: fastifyOnRequest(engine),
    evaluate: (facts) => engine.evaluate(facts),
    whenReady: (timeoutMs) => cache.whenLoaded(timeoutMs),
    entries: () => cache.entries(),
    stats: () => ({ ...recorder.stats(), registryVersion: cache.version }),
    flushUsage: () => recorder.flush(),
    close: async () => {
      await cache.close();
      await recorder.close();
      if (owned) redis.disconnect();
    },
  };
}
