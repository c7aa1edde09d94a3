import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryKeys, utcDay } from '../../src/api-retirement/keys.js';
import {
  createDeprecationMiddleware,
  type DeprecationMiddleware,
} from '../../src/api-retirement/middleware/index.js';
import { DeprecationRegistry } from '../../src/api-retirement/registry.js';
import { runCliCommand } from '../../src/cli/run.js';
import { waitFor } from '../kit/wait.js';
import { makeEntry } from './fixtures.js';
import { deletePrefix, REDIS_URL, testPrefix } from './redis-kit.js';
import { startServer, type RunningServer } from './server-kit.js';

/** Runs `backout redis-acl middleware …` and returns what it printed. */
async function printAcl(prefix: string, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCliCommand(['redis-acl', 'middleware', ...args], {
    write: (t) => out.push(t),
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    env: { BACKOUT_PREFIX: prefix },
  });
  return { code, out, err };
}

describe('the middleware as its own least-privilege Redis user', () => {
  const prefix = testPrefix();
  const user = `mw-test-${randomBytes(6).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const keys = registryKeys(prefix);
  const orders = makeEntry();
  const carts = makeEntry({ pattern: '/v1/carts/:id' });
  const clock = new Date('2026-02-01T12:00:00Z');
  let admin: Redis;
  let asMiddleware: Redis;
  let mw: DeprecationMiddleware;
  let server: RunningServer;
  const errors: unknown[] = [];

  // What backout itself keeps next to the registry, which the middleware must not touch.
  const requestKey = `${prefix}:req:rb-abcdefgh`;
  const lockKey = `${prefix}:target:checkout-api/production`;
  const queueKey = `${prefix}:jobs:wait`;
  const auditKey = `${prefix}:audit:stream`;

  beforeAll(async () => {
    admin = new Redis(REDIS_URL);
    const printed = await printAcl(prefix, ['--user', user, '--password', password]);
    expect(printed.code).toBe(0);
    expect(printed.out).toHaveLength(1);
    const line = printed.out[0]!;
    expect(line.startsWith(`ACL SETUSER ${user} reset on >`)).toBe(true);
    // Applied exactly as printed, as `… | redis-cli` would.
    const [cmd, ...args] = line.split(' ');
    expect(await admin.call(cmd!, ...args)).toBe('OK');

    await new DeprecationRegistry(admin, prefix).put(orders);
    await admin.hset(requestKey, { state: 'pending', spec: '{}' });
    await admin.set(lockKey, 'rb-abcdefgh');
    await admin.lpush(queueKey, 'rb-abcdefgh');
    await admin.xadd(auditKey, '1-0', 'record', '{}');

    const url = `redis://${user}:${password}@127.0.0.1:6379`;
    mw = createDeprecationMiddleware({
      redis: url,
      service: 'checkout',
      prefix,
      now: () => clock,
      onError: (e) => errors.push(e),
      usage: { flushIntervalMs: 60_000, writeTimeoutMs: 1_000 },
    });
    server = await startServer('node', mw);
    asMiddleware = new Redis(url, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    await server?.close();
    await mw?.close();
    asMiddleware?.disconnect();
    await admin.call('ACL', 'DELUSER', user);
    await deletePrefix(admin, prefix);
    admin.disconnect();
  });

  it('reads the registry, hears changes and records usage with only those rights', async () => {
    expect(await mw.whenReady(3_000)).toBe(true);
    const res = await fetch(`${server.url}/v1/orders/42`, { headers: { 'x-client-id': 'mobile' } });
    await res.arrayBuffer();
    expect(res.headers.get('deprecation')).not.toBeNull();
    expect(res.headers.get('sunset')).toBe(new Date('2026-03-01T00:00:00Z').toUTCString());

    // A change backout publishes reaches the service over the subscription.
    await new DeprecationRegistry(admin, prefix).put(carts);
    await waitFor(() => mw.entries().length === 2, { what: 'the second entry to arrive' });

    await mw.flushUsage();
    const counted = await admin.hgetall(keys.usageCount('checkout', utcDay(clock.getTime()), orders.id));
    expect(Object.values(counted).map(Number)).toEqual([1]);
    expect(mw.stats()).toMatchObject({ flushed: 1, errors: 0 });
    expect(errors).toEqual([]);
  });

  it('cannot read or write requests, target locks, queues or the audit stream, nor change the registry', async () => {
    const refused = async (what: string, attempt: () => Promise<unknown>) => {
      await expect(attempt(), what).rejects.toThrow(/NOPERM/);
    };
    await refused('read a request', () => asMiddleware.hgetall(requestKey));
    await refused('approve a request', () => asMiddleware.hset(requestKey, 'state', 'approved'));
    await refused('read a target lock', () => asMiddleware.get(lockKey));
    await refused('take a target lock', () => asMiddleware.set(lockKey, 'evil'));
    await refused('free a target lock', () => asMiddleware.del(lockKey));
    await refused('enqueue a job', () => asMiddleware.lpush(queueKey, 'evil'));
    await refused('read the audit stream', () => asMiddleware.xrange(auditKey, '-', '+'));
    await refused('append to the audit stream', () => asMiddleware.xadd(auditKey, '*', 'record', '{}'));
    await refused('edit the registry', () => asMiddleware.hset(keys.registry('checkout'), 'x', '{}'));
    await refused('announce a registry change', () => asMiddleware.publish(keys.changed, 'checkout'));
    await refused('list keys', () => asMiddleware.keys(`${prefix}:*`));
    await refused('run a script that writes a request', () =>
      asMiddleware.eval("return redis.call('HSET', KEYS[1], 'state', 'approved')", 1, requestKey),
    );
    await refused('read another prefix', () => asMiddleware.get('backout:api:registry-version:checkout'));

    // Everything backout keeps is as it was.
    expect(await admin.hget(requestKey, 'state')).toBe('pending');
    expect(await admin.get(lockKey)).toBe('rb-abcdefgh');
    expect(await admin.lrange(queueKey, 0, -1)).toEqual(['rb-abcdefgh']);
    expect(await admin.xlen(auditKey)).toBe(1);
  });

  it('without --password a fresh one is generated and the URL to give services is shown', async () => {
    const printed = await printAcl('{backout}', []);
    expect(printed.code).toBe(0);
    expect(printed.out[0]).toMatch(/^ACL SETUSER backout-middleware reset on >[A-Za-z0-9_-]{32} -@all /);
    expect(printed.out[0]).toContain('%R~{backout}:api:registry:*');
    expect(printed.out[0]).toContain('%RW~{backout}:api:usage:*');
    expect(printed.out[0]).toContain('&{backout}:api:registry:changed');
    expect(printed.err.join('\n')).toMatch(/REDIS_URL=redis:\/\/backout-middleware:[A-Za-z0-9_-]{32}@/);
    const bad = await printAcl('backout', ['--user', 'has space']);
    expect(bad.code).toBe(2);
  });
});
