import { DelayedError, type Job } from 'bullmq';
import type { RedisClient } from '../redis/client.js';
import { scanKeys } from '../redis/scan.js';
import { createDrainer, type DrainDeps } from './drain.js';

export type { DrainDeps } from './drain.js';

/**
 * The notify queue's processor: drains the job's channel; when it has to wait (Retry-After,
 * an earlier attempt settling, Slack's pace while every slot is taken) the job is moved to
 * delayed and comes back then.
 */
export function createDrainProcessor(deps: Omit<DrainDeps, 'crowded'>, slots: number) {
  // Drains running here: with every one of the worker's `slots` taken, a drain that has to wait
  // for Slack's pace gives its slot up (drain.ts).
  let running = 0;
  const drainChannel = createDrainer({ ...deps, crowded: () => running >= slots });
  return async function drain(job: Job<{ channel: string }>, token?: string): Promise<void> {
    running += 1;
    let later: number | undefined;
    try {
      later = await drainChannel(job.data.channel, `drain-${job.id ?? 'unknown'}`);
    } finally {
      running -= 1;
    }
    if (later === undefined) return;
    await job.moveToDelayed(Date.now() + later, token);
    throw new DelayedError();
  };
}

/** Lists channels whose outbox is not empty (for the periodic sweep that re-queues drains). */
export async function channelsWithBacklog(redis: RedisClient, prefix: string): Promise<string[]> {
  const pattern = `${prefix}:notify:lanes:*`;
  return (await scanKeys(redis, pattern)).map((key) => key.slice(pattern.length - 1));
}
