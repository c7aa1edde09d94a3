/**
 * The baseline for the approval benchmark: a bare BullMQ worker that does nothing with its jobs, with
 * backout's worker connection and timing options (`createRedis(…, 'worker')`, `WORKER_TIMING`,
 * concurrency 16 as backout's jobs worker). Run as its own process by the bench (`fork`) on
 * `BENCH_REDIS_URL` and `BENCH_PREFIX`; it tells its parent when it is consuming.
 */
import { Worker } from 'bullmq';
import { createLogger } from '../../src/observability/logger.js';
import { createRedis } from '../../src/queue/redis.js';
import { RepeatLog } from '../../src/redis/repeat-log.js';
import { WORKER_TIMING } from '../../src/queue/workers.js';

const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = process.env.BENCH_PREFIX ?? 'bench-bare';

const log = createLogger({ level: 'warn', secrets: [] });
const connection = createRedis({ kind: 'standalone', url: redisUrl }, 'worker', {
  log,
  repeats: new RepeatLog(log),
});
const worker = new Worker('jobs', () => Promise.resolve('done'), {
  connection,
  prefix,
  concurrency: 16,
  ...WORKER_TIMING,
});
worker.on('error', (err) => log.warn({ err: err.message }, 'bare worker error'));
await worker.waitUntilReady();
process.send?.({ type: 'ready' });
process.on('disconnect', () => process.exit(0));
process.once('SIGTERM', () => {
  worker.close().then(
    () => {
      connection.disconnect();
      process.exit(0);
    },
    () => process.exit(1),
  );
});
