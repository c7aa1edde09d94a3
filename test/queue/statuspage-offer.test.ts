import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditLog } from '../../src/audit/log.js';
import { StatusPageQueue, type Wanted } from '../../src/incidents/status-queue.js';
import { createLogger } from '../../src/observability/logger.js';
import type { Notifier } from '../../src/slack/notifier.js';
import { deleteKeys } from '../kit/world.js';

/**
 * What is wanted on the status page is recorded, then its pump job queued: two writes. A crash
 * between them must not lose the post: the same start or end told again (as a recovered job
 * does) queues a pump once more, while nothing has posted it and no pump is at work.
 */
describe('status page offers', () => {
  let redis: Redis;
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  const queued: string[] = [];
  let crashBeforeQueueing = false;
  let queue: StatusPageQueue;
  const unused = () => Promise.reject(new Error('not called by offers'));

  beforeAll(() => {
    redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    queue = new StatusPageQueue({
      statusPage: { create: unused, update: unused, findOpen: unused },
      pageId: 'page1',
      redis,
      prefix,
      timers: {
        add: (_name: string, _data: unknown, opts?: { jobId?: string }) => {
          if (crashBeforeQueueing) return Promise.reject(new Error('process died before queueing'));
          queued.push(opts?.jobId ?? '');
          return Promise.resolve({} as never);
        },
      } as never,
      requests: { get: () => Promise.resolve(undefined) },
      audit: {} as AuditLog,
      notifier: {} as Notifier,
      log: createLogger({ level: 'silent', secrets: [] }),
      retryForMs: 60_000,
    });
  });
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  const opening = { name: 'checkout-api is degraded', body: 'Rolling back.', components: {}, by: 'backout' };
  const update = (rank: number): Wanted => ({
    rank,
    run: 1,
    action: rank >= 1000 ? 'resolve incident' : 'update incident',
    status: rank >= 1000 ? 'resolved' : 'monitoring',
    body: 'verified',
    final: rank >= 1000,
  });

  it('queues a pump again for a start or an end told again after a crash between the two writes', async () => {
    crashBeforeQueueing = true;
    await expect(queue.open('rb-1', opening)).rejects.toThrow('process died');
    crashBeforeQueueing = false;
    expect(queued).toEqual([]);
    expect(await queue.open('rb-1', opening)).toBe(true);
    expect(queued).toHaveLength(1);

    crashBeforeQueueing = true;
    await expect(queue.update('rb-1', update(1000))).rejects.toThrow('process died');
    crashBeforeQueueing = false;
    expect(await queue.update('rb-1', update(1000))).toBe(true);
    expect(queued).toHaveLength(2);
    expect(new Set(queued).size).toBe(2);
  });

  it('never goes back to an earlier state, and queues nothing more once the latest is posted', async () => {
    expect(await queue.update('rb-1', update(3))).toBe(false);
    // The pump posted the incident and the resolve.
    await redis.set(`${prefix}:alert-req:rb-1:statuspage`, 'inc-1');
    await redis.hset(`${prefix}:alert-req:rb-1:statuspage:state`, 'sentRank', '1000');
    expect(await queue.update('rb-1', update(1000))).toBe(false);
    expect(await queue.open('rb-1', opening)).toBe(false);
    expect(queued).toHaveLength(2);
  });

  it('does not queue a second pump while one is at work', async () => {
    await queue.open('rb-2', opening);
    await redis.hset(
      `${prefix}:alert-req:rb-2:statuspage:state`,
      'pump',
      'statuspage-rb-2-1',
      'pumpUntil',
      String(Date.now() + 60_000),
    );
    const before = queued.length;
    expect(await queue.open('rb-2', opening)).toBe(false);
    expect(queued).toHaveLength(before);
  });
});
