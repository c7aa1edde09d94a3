import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { WorkerPool } from '../../src/queue/workers.js';
import { createRedis } from '../../src/queue/redis.js';
import { RepeatLog } from '../../src/redis/repeat-log.js';
import { waitFor } from '../kit/wait.js';
import { deleteKeys } from '../kit/world.js';
import { freePort } from '../kit/process.js';

describe('the worker watchdog', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('a worker whose blocking connection stays down while Redis answers is reported not ready, recreated, and consumes again', async () => {
    const prefix = `test-${randomUUID().slice(0, 8)}`;
    const probe = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    const metrics = createMetrics();
    const log = createLogger({ level: 'silent', secrets: [] });
    const repeats = new RepeatLog(log);
    const pool = new WorkerPool({
      connect: () =>
        createRedis({ kind: 'standalone', url: 'redis://127.0.0.1:6379' }, 'worker', { log, repeats }),
      prefix,
      log,
      repeats,
      metrics,
      probe,
      wedgeAfterMs: 1_000,
    });
    const seen: string[] = [];
    pool.start([
      { queue: 'wd', concurrency: 1, processor: (job) => Promise.resolve(void seen.push(String(job.id))) },
    ]);
    const queue = new Queue('wd', { connection: probe, prefix });
    cleanups.push(async () => {
      await pool.close(2_000);
      await queue.close();
      await deleteKeys(probe, prefix);
      probe.disconnect();
    });

    await waitFor(() => pool.healthy(), { what: 'the pool to be healthy' });
    await queue.add('a', {}, { jobId: 'before' });
    await waitFor(() => seen.includes('before'), { what: 'a job before the wedge' });

    // Park the worker's blocking connection in "reconnecting" for good (BullMQ #4585), while
    // Redis itself keeps answering: point it at a port where nothing listens, and drop it.
    const blocking = (await pool.workers()[0]!.getBackend().blockingClient) as unknown as Redis;
    blocking.options.port = await freePort();
    blocking.disconnect(true);
    await waitFor(() => !pool.healthy(), { what: 'readiness to report the wedged worker' });
    await waitFor(async () => (await metrics.workerRecreated.get()).values.some((v) => v.value >= 1), {
      what: 'the watchdog to recreate the worker',
      timeoutMs: 15_000,
    });
    await waitFor(() => pool.healthy(), { what: 'the recreated worker to be healthy' });
    await queue.add('b', {}, { jobId: 'after' });
    await waitFor(() => seen.includes('after'), { what: 'a job after the recreation' });
    expect(seen).toEqual(['before', 'after']);
  });
});
