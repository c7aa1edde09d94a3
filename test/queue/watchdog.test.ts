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

  it('a job still running under a worker the watchdog closed is not started again beside it: the new worker waits, then continues from its checkpoint', async () => {
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
      wedgeAfterMs: 500,
      // Compressed: the closed worker's lock lapses within a second and stalled jobs are found fast.
      timing: { lockDuration: 1_000, stalledInterval: 300 },
    });
    let active = 0;
    let overlapped = false;
    const runs: { token: string | undefined; sawCheckpoint: unknown }[] = [];
    let release!: () => void;
    const firstMayEnd = new Promise<void>((resolve) => (release = resolve));
    pool.start([
      {
        queue: 'wd2',
        concurrency: 2,
        processor: async (job, token) => {
          active++;
          if (active > 1) overlapped = true;
          runs.push({ token, sawCheckpoint: (job.data as { checkpoint?: string }).checkpoint });
          try {
            if (runs.length === 1) {
              await job.updateData({ checkpoint: 'step 1 done' });
              await firstMayEnd;
            }
          } finally {
            active--;
          }
        },
      },
    ]);
    const queue = new Queue('wd2', { connection: probe, prefix });
    cleanups.push(async () => {
      release();
      await pool.close(2_000);
      await queue.close();
      await deleteKeys(probe, prefix);
      probe.disconnect();
    });
    await waitFor(() => pool.healthy(), { what: 'the pool to be healthy' });
    await queue.add('long', {}, { jobId: 'long', attempts: 3 });
    await waitFor(() => runs.length === 1, { what: 'the first run to start' });
    const firstToken = runs[0]!.token;

    const blocking = (await pool.workers()[0]!.getBackend().blockingClient) as unknown as Redis;
    blocking.options.port = await freePort();
    blocking.disconnect(true);
    await waitFor(async () => (await metrics.workerRecreated.get()).values.some((v) => v.value >= 1), {
      what: 'the watchdog to recreate the worker',
      timeoutMs: 15_000,
    });
    // BullMQ finds the job stalled and hands it to the new worker (a new lock token)…
    let taken = false;
    pool.workers()[0]!.on('active', () => (taken = true));
    await waitFor(() => taken, { what: 'the new worker to take the stalled job', timeoutMs: 15_000 });
    expect(await probe.get(`${prefix}:wd2:long:lock`)).not.toBe(firstToken);
    // …which does not start it while the first run is still going (the processor would be
    // called in the same turn as 'active').
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toHaveLength(1);
    release();
    await waitFor(() => runs.length === 2, { what: 'the second run, after the first ended' });
    await waitFor(async () => (await queue.getJob('long'))?.finishedOn !== undefined, {
      what: 'the job to complete',
    });
    expect(overlapped).toBe(false);
    expect(runs[1]!.sawCheckpoint).toBe('step 1 done');
  });
});
