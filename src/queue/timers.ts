import type { Job, Queue } from 'bullmq';
import type { RedisClient } from '../redis/client.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { RequestFlow } from '../requests/flow.js';
import type { RequestStore } from '../requests/store.js';
import type { TargetLocks } from '../requests/target-lock.js';
import { DRAIN_JOB_OPTIONS } from '../slack/notifier.js';
import { backlogReader } from '../slack/notify-worker.js';
import type { JobData } from './job-definition.js';
import type { ApiWarningJob } from '../../jobs/api-warnings.js';
import { freeOrphanedLocks } from './orphan-locks.js';
import { STATUSPAGE_JOB } from '../incidents/keys.js';

export const SWEEP_EVERY_MS = 30_000;

/**
 * Durable timers: request expiry (one delayed job per request) and a periodic sweep that
 * heals what a crash between two writes can leave behind — an outbox with no drain job
 * queued, an approved request whose job was never added, a target lock whose holder is
 * overdue, gone or failed — and trims the request index.
 */
export function createTimerProcessor(deps: {
  flow: RequestFlow;
  requests: RequestStore;
  redis: RedisClient;
  prefix: string;
  notify: Queue;
  jobs: Queue<JobData>;
  locks: TargetLocks;
  metrics: Metrics;
  log: Logger;
  /** Runs a due API retirement reminder. */
  apiWarning?: (data: ApiWarningJob) => Promise<string>;
  /** Posts what a request wants on the status page (retried by BullMQ while Statuspage fails). */
  statusPage?: (job: Job<{ requestId?: string }>) => Promise<void>;
  /** Reads the watched Argo Rollouts and files a card for each new indefinite pause. */
  rolloutGates?: () => Promise<number>;
}) {
  const channelsWithBacklog = backlogReader(deps.redis, deps.prefix);
  return async function timers(job: Job<{ requestId?: string }>): Promise<void> {
    if (job.name === 'api-warning' && deps.apiWarning) {
      const result = await deps.apiWarning(job.data as unknown as ApiWarningJob);
      deps.log.info({ reminder: job.id, result }, 'API retirement reminder');
      return;
    }
    if (job.name === STATUSPAGE_JOB && deps.statusPage) {
      await deps.statusPage(job);
      return;
    }
    if (job.name === 'rollout-gates' && deps.rolloutGates) {
      const filed = await deps.rolloutGates();
      if (filed > 0) deps.log.info({ filed }, 'rollout gates: new pauses to approve');
      return;
    }
    if (job.name === 'expire' && job.data.requestId) {
      const expired = await deps.flow.expire(job.data.requestId);
      if (expired) deps.log.info({ requestId: job.data.requestId }, 'request expired');
      return;
    }
    if (job.name === 'sweep') {
      for (const channel of await channelsWithBacklog()) {
        await deps.notify.add('drain', { channel }, DRAIN_JOB_OPTIONS);
      }
      const since = Date.now() - 2 * 86_400_000;
      for (const request of await deps.requests.listInState(since, 'approved')) {
        if (Date.now() - request.updatedAt < SWEEP_EVERY_MS) continue;
        if (await deps.jobs.getJob(request.id)) continue;
        deps.log.warn({ requestId: request.id }, 'approved request had no job; queueing it');
        await deps.flow.enqueue(request.id, Math.max(1, request.run));
      }
      await freeOrphanedLocks(deps);
      await deps.requests.trimIndex();
    }
  };
}
