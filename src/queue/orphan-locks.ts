import type { Queue } from 'bullmq';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { RequestFlow } from '../requests/flow.js';
import { isTerminal, type RequestStore } from '../requests/store.js';
import { FILING_GRACE_MS, type TargetLocks } from '../requests/target-lock.js';
import type { JobData } from './job-definition.js';
import { utcText } from '../text/time.js';

/** A pending request this long past its expiry has lost its expiry timer. */
export const OVERDUE_GRACE_MS = 60_000;

/**
 * Frees target locks that would otherwise wait for their 6 h TTL: a holder that no longer
 * exists or has finished, a pending request past its expiry (its timer was lost), a running
 * request whose job is gone or failed for good. Each freed request's card says why.
 */
export async function freeOrphanedLocks(
  deps: {
    locks: TargetLocks;
    requests: RequestStore;
    flow: RequestFlow;
    jobs: Queue<JobData>;
    log: Logger;
    metrics: Metrics;
  },
  now = Date.now(),
): Promise<number> {
  let freed = 0;
  for (const { target, holder, heldForMs } of await deps.locks.held()) {
    const request = await deps.requests.get(holder);
    let done = false;
    // Not stored yet and taken moments ago: the request is being filed (its target is taken first).
    if (!request && heldForMs < FILING_GRACE_MS) continue;
    if (!request || isTerminal(request.state)) {
      done = await deps.locks.release(target, holder);
    } else if (request.state === 'pending' && request.expiresAt + OVERDUE_GRACE_MS < now) {
      done = await deps.flow.expire(
        request.id,
        `Expired at ${utcText(request.expiresAt)} without approval; ${target} was freed by the sweep (the expiry timer did not fire). Nothing was changed.`,
      );
    } else if (request.state === 'running') {
      const job = await deps.jobs.getJob(request.id);
      const gone = !job ? 'is gone' : (await job.isFailed()) ? 'failed for good' : undefined;
      if (gone) {
        done = await deps.flow.abandon(
          request.id,
          `its job ${gone} while the request was still running; ${target} was freed by the sweep. Check the thread for the last step, then Retry`,
        );
      }
    }
    if (done) {
      freed++;
      deps.metrics.orphanLocksFreed.inc();
      deps.log.warn({ target, holder, state: request?.state ?? 'gone' }, 'freed an orphaned target lock');
    }
  }
  return freed;
}
