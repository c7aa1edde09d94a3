import type { BackoutErrorCode } from '../errors.js';

/**
 * How a job ended, in one typed list: the `outcome` label of `backout_jobs_total`, the mark on
 * the card and the audit all read it from here, so no outcome is ever counted as another.
 *
 * - `healthy`: the change landed and every health check passed in every round of the window.
 * - `degraded`: the change landed, but some check failed in some round (see `verdictOf` in
 *   jobs/rollback-verify.ts for the exact rule).
 * - `failed`: the job did not do its work, or the service is down after it (no check passed in
 *   the last round).
 * - `overridden`: someone else changed the target after backout's change; backout stopped.
 * - `stale`: the live state moved after the plan; nothing was changed.
 * - `no-op`: nothing needed doing.
 * - `succeeded`: the work is done and there is nothing to verify (jobs without health checks).
 */
export const OUTCOMES = [
  'healthy',
  'degraded',
  'failed',
  'overridden',
  'stale',
  'no-op',
  'succeeded',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export function isOutcome(value: unknown): value is Outcome {
  return typeof value === 'string' && (OUTCOMES as readonly string[]).includes(value);
}

/** The mark each outcome carries on cards and thread replies. */
export const OUTCOME_MARK: Record<Outcome, string> = {
  healthy: ':white_check_mark:',
  succeeded: ':white_check_mark:',
  degraded: ':warning:',
  failed: ':x:',
  overridden: ':leftwards_arrow_with_hook:',
  stale: ':no_entry_sign:',
  'no-op': ':information_source:',
};

/** The word the card's status line starts with. */
export const OUTCOME_WORD: Record<Outcome, string> = {
  healthy: 'Done',
  succeeded: 'Done',
  degraded: 'Done',
  'no-op': 'Done',
  failed: 'Failed',
  stale: 'Failed',
  overridden: 'Overridden',
};

/** The outcome a job error stands for, when its code says more than "failed". */
export function outcomeOfError(code: BackoutErrorCode | undefined): Outcome | undefined {
  if (code === 'stale_plan') return 'stale';
  if (code === 'overridden') return 'overridden';
  return undefined;
}
