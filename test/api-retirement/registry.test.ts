import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registryKeys } from '../../src/api-retirement/keys.js';
import { createDeprecationMiddleware } from '../../src/api-retirement/middleware/index.js';
import { DeprecationRegistry } from '../../src/api-retirement/registry.js';
import { RegistryCache } from '../../src/api-retirement/registry-cache.js';
import { waitFor } from '../kit/wait.js';
import { makeEntry } from './fixtures.js';
import { deletePrefix, REDIS_URL, testPrefix } from './redis-kit.js';

describe('DeprecationRegistry', () => {
  let prefix: string;
  let redis: Redis;
  let subscriber: Redis;
  let registry: DeprecationRegistry;

  beforeEach(() => {
    prefix = testPrefix();
    redis = new Redis(REDIS_URL);
    subscriber = new Redis(REDIS_URL);
    registry = new DeprecationRegistry(redis, prefix);
  });

  afterEach(async () => {
    await deletePrefix(redis, prefix);
    subscriber.disconnect();
    await redis.quit();
  });

  it('puts, gets, lists and removes entries, bumping the version and notifying each time', async () => {
    const messages: string[] = [];
    subscriber.on('message', (channel: string, message: string) => messages.push(`${channel} ${message}`));
    await subscriber.subscribe(registryKeys(prefix).changed);

    const orders = makeEntry();
    const carts = makeEntry({ pattern: '/v1/carts/*', method: '*' });
    expect(await registry.version('checkout')).toBe(0);
    expect(await registry.put(orders)).toBe(1);
    expect(await registry.put(carts)).toBe(2);
    expect(await registry.get('checkout', orders.id)).toEqual(orders);
    expect(await registry.get('checkout', 'GET /nope')).toBeUndefined();
    expect(await registry.list('checkout')).toEqual([carts, orders]);
    expect(await registry.list('billing')).toEqual([]);

    expect(await registry.remove('checkout', orders.id)).toBe(true);
    expect(await registry.remove('checkout', orders.id)).toBe(false);
    expect(await registry.list('checkout')).toEqual([carts]);
    expect(await registry.version('checkout')).toBe(4);
    await waitFor(() => messages.length === 4, { what: 'four change notifications' });
    expect(new Set(messages)).toEqual(new Set([`${prefix}:api:registry:changed checkout`]));
  });

  it('refuses to store an invalid entry', async () => {
    await expect(registry.put({ ...makeEntry(), sunset: 'soon' })).rejects.toThrow();
    expect(await registry.version('checkout')).toBe(0);
  });

  it('skips stored entries that fail validation, and the cache reports them', async () => {
    const orders = makeEntry();
    await registry.put(orders);
    await redis.hset(
      registryKeys(prefix).registry('checkout'),
      'GET /broken',
      '{"id":"GET /broken"}',
      'GET /junk',
      'nope',
    );
    expect(await registry.list('checkout')).toEqual([orders]);

    const errors: string[] = [];
    const cache = new RegistryCache({
      redis,
      service: 'checkout',
      prefix,
      onError: (err) => errors.push(String(err)),
    });
    try {
      expect(await cache.whenLoaded()).toBe(true);
      expect(cache.entries()).toEqual([orders]);
      expect(errors.some((e) => e.includes('"GET /broken" is invalid'))).toBe(true);
      expect(errors.some((e) => e.includes('"GET /junk" is not JSON'))).toBe(true);
    } finally {
      await cache.close();
    }
  });

  it('refuses a service connection with an ioredis keyPrefix, which would hide the registry', () => {
    const prefixed = new Redis(REDIS_URL, { keyPrefix: 'svc:', lazyConnect: true });
    expect(() => createDeprecationMiddleware({ redis: prefixed, service: 'checkout', prefix })).toThrow(
      /keyPrefix/,
    );
    prefixed.disconnect();
  });
});
