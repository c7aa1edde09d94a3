import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { KEYSPACE_WALK_EVERY_MS } from '../../src/redis/scan.js';
import { TargetLocks } from '../../src/requests/target-lock.js';
import { waitFor } from '../kit/wait.js';

describe('target locks: the sweep reads them from their index, not from the keyspace', () => {
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  const prefix = `test-locks-${randomUUID()}`;
  const index = `${prefix}:targets`;
  const lockKey = (target: string) => `${prefix}:target:${target}`;
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  const sorted = (held: { target: string; holder: string }[]) =>
    held.map(({ target, holder }) => ({ target, holder })).sort((a, b) => a.target.localeCompare(b.target));

  it('lists every lock taken, drops released and expired ones, and keeps a lock someone else holds', async () => {
    const locks = new TargetLocks(redis, prefix, 60_000);
    const short = new TargetLocks(redis, prefix, 200);
    expect(await locks.acquire('checkout-api/production', 'rb-aaaaaaaa')).toEqual({ ok: true });
    expect(await locks.acquire('payments/production', 'rb-bbbbbbbb')).toEqual({ ok: true });
    expect(await short.acquire('search/staging', 'rb-cccccccc')).toEqual({ ok: true });
    expect(await redis.smembers(index)).toHaveLength(3);

    expect(await locks.release('payments/production', 'rb-bbbbbbbb')).toBe(true);
    // Not the holder: the lock and its index entry stay.
    expect(await locks.release('checkout-api/production', 'rb-zzzzzzzz')).toBe(false);
    await waitFor(async () => (await redis.exists(lockKey('search/staging'))) === 0, {
      what: 'the short lock to expire',
    });

    expect(sorted(await locks.held())).toEqual([
      { target: 'checkout-api/production', holder: 'rb-aaaaaaaa' },
    ]);
    // The expired lock has left the index with that walk; the released one left it on release.
    expect(await redis.smembers(index)).toEqual(['checkout-api/production']);
  });

  it('finds, on its first walk in a process and hourly, a lock taken without the index, and indexes it', async () => {
    // As a version without the index left it: the key alone.
    await redis.set(lockKey('ledger/production'), 'rb-dddddddd', 'PX', 60_000);
    const fresh = new TargetLocks(redis, prefix, 60_000);
    expect(sorted(await fresh.held())).toEqual([
      { target: 'checkout-api/production', holder: 'rb-aaaaaaaa' },
      { target: 'ledger/production', holder: 'rb-dddddddd' },
    ]);
    expect((await redis.smembers(index)).sort()).toEqual(['checkout-api/production', 'ledger/production']);
    // From then on the index is what is read, and releasing keeps it exact.
    expect(await fresh.release('ledger/production', 'rb-dddddddd')).toBe(true);
    expect(sorted(await fresh.held())).toEqual([
      { target: 'checkout-api/production', holder: 'rb-aaaaaaaa' },
    ]);

    // An older replica still running (a rolling upgrade) takes one more without the index: the
    // next walks read the index alone, and the hourly walk of the keyspace finds it.
    await redis.set(lockKey('notes/production'), 'rb-gggggggg', 'PX', 60_000);
    expect(sorted(await fresh.held()).map((h) => h.target)).toEqual(['checkout-api/production']);
    const clock = vi.spyOn(Date, 'now').mockReturnValue(Date.now() + KEYSPACE_WALK_EVERY_MS);
    try {
      expect(sorted(await fresh.held()).map((h) => h.target)).toEqual([
        'checkout-api/production',
        'notes/production',
      ]);
    } finally {
      clock.mockRestore();
    }
    expect(await fresh.release('notes/production', 'rb-gggggggg')).toBe(true);
  });

  it('says how long ago each lock was taken or renewed, from its time to live', async () => {
    const locks = new TargetLocks(redis, prefix, 3_600_000);
    expect(await locks.acquire('orders/production', 'rb-eeeeeeee')).toEqual({ ok: true });
    const fresh = (await locks.held()).find((h) => h.target === 'orders/production')!;
    expect(fresh.heldForMs).toBeLessThan(10_000);
    await redis.pexpire(lockKey('orders/production'), 3_600_000 - 90_000);
    const aged = (await locks.held()).find((h) => h.target === 'orders/production')!;
    expect(aged.heldForMs).toBeGreaterThanOrEqual(90_000);
    expect(aged.heldForMs).toBeLessThan(100_000);
    // A second filing is told the same.
    const refused = await locks.acquire('orders/production', 'rb-ffffffff');
    expect(refused).toMatchObject({ ok: false, holder: 'rb-eeeeeeee' });
    expect(refused.ok === false && refused.heldForMs).toBeGreaterThanOrEqual(90_000);
    expect(await locks.extend('orders/production', 'rb-eeeeeeee')).toBe(true);
    expect((await locks.held()).find((h) => h.target === 'orders/production')!.heldForMs).toBeLessThan(
      10_000,
    );
  });
});
