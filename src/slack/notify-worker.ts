import { DelayedError, type Job } from 'bullmq';
import type { RedisClient } from '../redis/client.js';
import { indexCatchUp } from '../redis/scan.js';
import { runScript } from '../redis/script.js';
import { notifyKeys } from './notifier.js';
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

/**
 * The indexed channels whose outbox still has a lane; a channel whose lanes are gone leaves the
 * index. KEYS: backlog. ARGV: the lanes keys' prefix (same hash slot as the index).
 */
const BACKLOG = `
local out = {}
for _, channel in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. channel) == 1 then
    out[#out + 1] = channel
  else
    redis.call('SREM', KEYS[1], channel)
  end
end
return out
`;

/**
 * Lists channels whose outbox is not empty, for the periodic sweep that re-queues drains, from
 * the backlog index the outbox scripts keep rather than a walk of the keyspace (see indexCatchUp).
 */
export function backlogReader(redis: RedisClient, prefix: string): () => Promise<string[]> {
  const keys = notifyKeys(prefix);
  const lanesPrefix = keys.lanes('');
  const catchUp = indexCatchUp(redis, lanesPrefix, keys.backlog());
  return async function channelsWithBacklog(): Promise<string[]> {
    await catchUp();
    return (await runScript(redis, BACKLOG, 1, keys.backlog(), lanesPrefix)) as string[];
  };
}
