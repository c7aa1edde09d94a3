import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createDeprecationMiddleware,
  type DeprecationMiddleware,
} from '../../src/api-retirement/middleware/index.js';
import { DeprecationRegistry } from '../../src/api-retirement/registry.js';
import { waitFor } from '../kit/wait.js';
import { makeEntry } from './fixtures.js';
import { deletePrefix, REDIS_URL, RedisProxy, testPrefix } from './redis-kit.js';
import { hammer, startServer, type RunningServer } from './server-kit.js';

describe('registry changes reach a running service', () => {
  let prefix: string;
  let admin: Redis;
  let registry: DeprecationRegistry;
  let proxy: RedisProxy;
  let serviceRedis: Redis;
  let mw: DeprecationMiddleware;
  let server: RunningServer;
  const errors: unknown[] = [];
  const clock = new Date('2026-02-01T12:00:00Z');
  const orders = makeEntry();
  const carts = makeEntry({ pattern: '/v1/carts/:id' });

  const deprecated = async (path: string) => {
    const response = await fetch(`${server.url}${path}`);
    await response.arrayBuffer();
    expect(response.status).toBe(200);
    return response.headers.get('deprecation') !== null;
  };

  beforeEach(async () => {
    prefix = testPrefix();
    admin = new Redis(REDIS_URL);
    registry = new DeprecationRegistry(admin, prefix);
    await registry.put(orders);
    proxy = new RedisProxy();
    await proxy.open();
    // The service reaches Redis only through the proxy; quick reconnects keep the test short.
    serviceRedis = new Redis(proxy.url, { retryStrategy: () => 50, maxRetriesPerRequest: 1 });
    serviceRedis.on('error', () => undefined);
    mw = createDeprecationMiddleware({
      redis: serviceRedis,
      service: 'checkout',
      prefix,
      now: () => clock,
      onError: (err) => errors.push(err),
      usage: { flushIntervalMs: 50, writeTimeoutMs: 500 },
      registry: { loadTimeoutMs: 500, retry: { minMs: 50, maxMs: 200 } },
    });
    expect(await mw.whenReady()).toBe(true);
    server = await startServer('node', mw);
  });

  afterEach(async () => {
    await server.close();
    await mw.close();
    serviceRedis.disconnect();
    await proxy.close();
    await deletePrefix(admin, prefix);
    await admin.quit();
  });

  it('applies put and remove from another connection within 2 s, without a restart', async () => {
    expect(await deprecated('/v1/orders/1')).toBe(true);
    expect(await deprecated('/v1/carts/1')).toBe(false);

    let started = performance.now();
    await registry.put(carts);
    await waitFor(() => deprecated('/v1/carts/1'), {
      timeoutMs: 2000,
      intervalMs: 10,
      what: 'the new entry',
    });
    expect(performance.now() - started).toBeLessThan(2000);

    started = performance.now();
    await registry.remove('checkout', orders.id);
    await waitFor(async () => !(await deprecated('/v1/orders/1')), {
      timeoutMs: 2000,
      intervalMs: 10,
      what: 'the removal',
    });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(mw.stats().registryVersion).toBe(3);
  });

  it('keeps serving with the last known registry while Redis is away, and catches up when it is back', async () => {
    await registry.put(carts);
    await waitFor(() => mw.stats().registryVersion === 2, { what: 'the registry at version 2' });

    await proxy.close();
    const errorsBefore = errors.length;
    // The request path never waits on Redis: every request is answered, with the cached entries.
    const statuses = await hammer(`${server.url}/v1/orders/1`, 200);
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect(await deprecated('/v1/orders/1')).toBe(true);
    expect(await deprecated('/v1/carts/1')).toBe(true);
    expect(await deprecated('/v2/orders/1')).toBe(false);
    await waitFor(() => mw.stats().errors > 0, { what: 'a usage write to fail' });
    expect(errors.length).toBeGreaterThan(errorsBefore);
    expect(mw.entries().map((entry) => entry.id)).toEqual([carts.id, orders.id]);

    // A change made while the service cannot hear it arrives once Redis is reachable again.
    await registry.remove('checkout', carts.id);
    expect(await deprecated('/v1/carts/1')).toBe(true);
    await proxy.open();
    await waitFor(async () => !(await deprecated('/v1/carts/1')), {
      what: 'the catch-up after reconnecting',
    });
    expect(await deprecated('/v1/orders/1')).toBe(true);
  });
});
