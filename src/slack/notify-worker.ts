import { DelayedError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { createDrainer, type DrainDeps } from './drain.js';

export type { DrainDeps } from './drain.js';

/**
 * The notify queue's processor: drains the job's channel; when it has to wait (Retry-After,
 * an earlier attempt settling) the job is moved to delayed and comes back then.
 */
export function createDrainProcessor(deps: DrainDeps) {
  const drainChannel = createDrainer(deps);
  return async function drain(job: Job<{ channel: string }>, token?: string): Promise<void> {
    const later = await drainChannel(job.data.channel, `drain-${job.id ?? 'unknown'}`);
    if (later === undefined) return;
    await job.moveToDelayed(Date.now() + later, token);
    throw new DelayedError();
  };
}

/** Lists channels whose outbox is not empty (for the periodic sweep that re-queues drains). */
export async function channelsWithBacklog(redis: Redis, prefix: string): Promise<string[]> {
  const pattern = `${prefix}:notify:lanes:*`;
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
    cursor = next;
    for (const key of found) out.push(key.slice(pattern.length - 1));
  } while (cursor !== '0');
  return out;
}
