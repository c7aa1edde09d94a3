import type { BackoutRequest } from '../requests/types.js';

/** A step of a job that has just finished, as the step runner saw it. */
export interface FinishedStep {
  name: string;
  /** 1-based, of `steps` (every step name of the job, in order). */
  index: number;
  steps: readonly string[];
  /** The run of the request (1, then +1 per Retry). */
  run: number;
}

/**
 * What happens around a job, not in it: told when a job starts (after `job.started` is recorded)
 * and when it ends (after `job.succeeded` / `job.failed`). Listeners bound their own outbound calls.
 * `stepFinished` (after `step.finished` is recorded) is not awaited by the job: it must only hand
 * work on (a Redis write, a queued job), never wait on anything slow itself.
 */
export interface JobLifecycle {
  started(request: BackoutRequest): Promise<void>;
  ended(request: BackoutRequest): Promise<void>;
  stepFinished?(request: BackoutRequest, step: FinishedStep): Promise<void>;
}
