import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clientIdResolver } from '../../src/api-retirement/client-id.js';
import { registryKeys } from '../../src/api-retirement/keys.js';
import { DeprecationRegistry } from '../../src/api-retirement/registry.js';
import { UsageRecorder } from '../../src/api-retirement/usage-recorder.js';
import { makeEntry } from './fixtures.js';
import { deletePrefix, REDIS_URL, testPrefix } from './redis-kit.js';

const DAY = 86_400_000;

describe('UsageRecorder', () => {
  let prefix: string;
  let redis: Redis;
  let registry: DeprecationRegistry;
  const recorders: UsageRecorder[] = [];
  const recorder = (options: Partial<ConstructorParameters<typeof UsageRecorder>[0]> = {}) => {
    const created = new UsageRecorder({
      redis,
      service: 'checkout',
      prefix,
      flushIntervalMs: 60_000,
      ...options,
    });
    recorders.push(created);
    return created;
  };

  beforeEach(() => {
    prefix = testPrefix();
    redis = new Redis(REDIS_URL);
    registry = new DeprecationRegistry(redis, prefix);
  });

  afterEach(async () => {
    for (const created of recorders.splice(0)) await created.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('counts per client per day with last seen, summed over the asked days', async () => {
    const entry = makeEntry();
    await registry.put(entry);
    const usage = recorder();
    const now = Date.parse('2026-02-10T12:00:00Z');
    usage.record(entry.id, 'alpha', now - 5000);
    usage.record(entry.id, 'alpha', now - 1000);
    usage.record(entry.id, 'beta', now - 3000);
    usage.record(entry.id, 'alpha', now - DAY);
    usage.record(entry.id, 'gamma', now - 2 * DAY);
    await usage.flush();
    usage.record(entry.id, 'beta', now - 500);
    await usage.flush();
    expect(usage.stats()).toEqual({ recorded: 6, flushed: 6, dropped: 0, errors: 0 });

    const iso = (ms: number) => new Date(ms).toISOString();
    const flat = { direction: 'flat', slopePerDay: 0 };
    const day = (d: string, share: number) => ({ firstSeen: d, share, trend: flat });
    expect(await registry.usage('checkout', { days: 1, now: new Date(now) })).toEqual([
      {
        id: entry.id,
        total: 4,
        days: ['2026-02-10'],
        daily: [4],
        trend: flat,
        clients: [
          { client: 'alpha', count: 2, lastSeen: iso(now - 1000), daily: [2], ...day('2026-02-10', 0.5) },
          { client: 'beta', count: 2, lastSeen: iso(now - 500), daily: [2], ...day('2026-02-10', 0.5) },
        ],
      },
    ]);
    const rising = (slopePerDay: number) => ({ direction: 'rising', slopePerDay });
    expect(await registry.usage('checkout', { days: 3, now: new Date(now) })).toEqual([
      {
        id: entry.id,
        total: 6,
        days: ['2026-02-08', '2026-02-09', '2026-02-10'],
        daily: [1, 1, 4],
        trend: rising(1.5),
        clients: [
          {
            client: 'alpha',
            count: 3,
            lastSeen: iso(now - 1000),
            firstSeen: '2026-02-09',
            daily: [0, 1, 2],
            share: 0.5,
            trend: rising(1),
          },
          {
            client: 'beta',
            count: 2,
            lastSeen: iso(now - 500),
            firstSeen: '2026-02-10',
            daily: [0, 0, 2],
            share: 2 / 6,
            trend: rising(1),
          },
          {
            client: 'gamma',
            count: 1,
            lastSeen: iso(now - 2 * DAY),
            firstSeen: '2026-02-08',
            daily: [1, 0, 0],
            share: 1 / 6,
            trend: { direction: 'falling', slopePerDay: -0.5 },
          },
        ],
      },
    ]);
    const ttl = await redis.ttl(registryKeys(prefix).usageCount('checkout', '2026-02-10', entry.id));
    expect(ttl).toBeGreaterThan(34 * 86_400);
    expect(ttl).toBeLessThanOrEqual(35 * 86_400);
  });

  it('keeps at most N distinct clients per entry per day and counts the rest under "other"', async () => {
    const entry = makeEntry();
    const at = Date.parse('2026-02-10T12:00:00Z');
    const first = recorder({ maxClientsPerDay: 3 });
    for (const client of ['a', 'b', 'c', 'd', 'e', 'a']) first.record(entry.id, client, at);
    await first.flush();
    // A second process has its own buffer; the cap is enforced in Redis as well.
    const second = recorder({ maxClientsPerDay: 3 });
    for (const client of ['f', 'b', 'g']) second.record(entry.id, client, at + 1);
    await second.flush();
    const [usage] = await registry.usage('checkout', { days: 1, now: new Date(at), ids: [entry.id] });
    if (!usage) throw new Error('expected usage for the entry');
    expect(usage.clients.map(({ client, count }) => [client, count])).toEqual([
      ['other', 4],
      ['a', 2],
      ['b', 2],
      ['c', 1],
    ]);
  });

  it('stores a hash of the API key, never the key', async () => {
    const resolve = clientIdResolver({ apiKeyHeader: 'Authorization' });
    const secret = 'Bearer sk_live_4f9a0c1e2b3d';
    const id = resolve({ method: 'GET', url: '/', headers: { authorization: secret } });
    expect(id).toMatch(/^key:[0-9a-f]{16}$/);
    expect(resolve({ method: 'GET', url: '/', headers: {} })).toBe('anonymous');
    const usage = recorder();
    usage.record('GET /v1/orders/:id', id, Date.now());
    await usage.flush();
    const keys = await redis.keys(`${prefix}:*`);
    expect(keys.length).toBe(2);
    for (const key of keys) {
      const hash = await redis.hgetall(key);
      expect(JSON.stringify(hash)).not.toContain('sk_live');
      expect(Object.keys(hash)).toEqual([id]);
    }
  });

  it('resolves header and source client ids', () => {
    const byHeader = clientIdResolver({ header: 'X-Client-Id' });
    expect(byHeader({ method: 'GET', url: '/', headers: { 'x-client-id': ' mobile-ios ' } })).toBe(
      'mobile-ios',
    );
    expect(byHeader({ method: 'GET', url: '/', headers: { 'x-client-id': 'x'.repeat(500) } })).toHaveLength(
      128,
    );
    const bySource = clientIdResolver('source');
    expect(bySource({ method: 'GET', url: '/', headers: {}, remoteAddress: '::ffff:10.1.2.3' })).toBe(
      '10.1.2.3',
    );
    expect(bySource({ method: 'GET', url: '/', headers: {}, remoteAddress: '::1' })).toBe('::1');
    expect(bySource({ method: 'GET', url: '/', headers: {} })).toBe('anonymous');
  });

  it('never throws when Redis is away: the batch is dropped and counted', async () => {
    const offline = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false });
    const errors: unknown[] = [];
    const usage = recorder({ redis: offline, onError: (err) => errors.push(err) });
    usage.record('GET /v1/orders/:id', 'alpha', Date.now());
    usage.record('GET /v1/orders/:id', 'beta', Date.now());
    await usage.flush();
    expect(usage.stats()).toEqual({ recorded: 2, flushed: 0, dropped: 2, errors: 1 });
    expect(errors).toHaveLength(1);
    offline.disconnect();
  });
});
