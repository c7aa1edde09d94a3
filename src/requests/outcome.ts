import type { BackoutErrorCode } from '../errors.js';

/**
 * How a job ended, in one word: the label of `backout_jobs_total{outcome}` and the mark on its
 * card. The one place this list lives; the free-text `outcome` beside it says the details.
 * - `succeeded`: done, with nothing to verify (a retraction, a canary abort, a no-op).
 * - `healthy` / `degraded`: done and verified; degraded means a health check failed.
 * - `failed`: a step failed for good (an error, a stalled rollout).
 * - `overridden`: someone else's write replaced the job's change before it was verified.
 * - `stale`: refused before changing anything, because live state moved since the plan.
 */
export const JOB_OUTCOMES = ['succeeded', 'healthy', 'degraded', 'failed', 'overridden', 'stale'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

export function isJobOutcome(value: unknown): value is JobOutcome {
  return typeof value === 'string' && (JOB_OUTCOMES as readonly string[]).includes(value);
}

/** The outcome of a job that ended on an error with this code. */
export function outcomeOfError(code: BackoutErrorCode | undefined): JobOutcome {
  if (code === 'stale_plan') return 'stale';
  if (code === 'overridden') return 'overridden';
  return 'failed';
}

/** The card's mark and word for each outcome. */
export const OUTCOME_MARK: Record<JobOutcome, { emoji: string; word: string }> = {
  succeeded: { emoji: ':white_check_mark:', word: 'Done' },
  healthy: { emoji: ':white_check_mark:', word: 'Done' },
  degraded: { emoji: ':warning:', word: 'Done' },
  failed: { emoji: ':x:', word: 'Failed' },
  overridden: { emoji: ':leftwards_arrow_with_hook:', word: 'Overridden' },
  stale: { emoji: ':x:', word: 'Failed' },
};
