import type { Logger } from '../observability/logger.js';
import type { BackoutRequest, RequestKind } from '../requests/types.js';
import type { CardButton } from '../slack/cards.js';
import type { Outcome } from '../requests/outcome.js';

/**
 * What a step may return:
 * - nothing, or `{ detail }`: done; the checkpoint moves past it.
 * - `{ again: ms }`: not done yet (a rollout still converging, a dwell); run the step
 *   again after `ms`. Short waits stay in the worker; long ones hand the job back to
 *   BullMQ as a delayed job so no worker is held.
 * - `{ finish: outcome }`: the job is complete early (a no-op, a stale plan refused).
 *   `failed: true` ends it as failed.
 * - `verdict`: how the job stands after this step (a verify that found problems says
 *   `degraded`): the step's reply carries that outcome's mark, and the job is counted as the
 *   last verdict given (see src/requests/outcome.ts).
 * - `{ waitChildren: true }`: the step started child jobs (BullMQ flow children, added with
 *   `parent` set to this job) and waits for them: the job is parked in BullMQ's
 *   waiting-children state, holding no worker, and the step runs again once every child ended.
 */
export type StepResult =
  | void
  | { detail?: string; verdict?: Outcome }
  | { again: number; detail?: string }
  | { finish: string; detail?: string; failed?: boolean; verdict?: Outcome }
  | { waitChildren: true; detail?: string };

export interface StepContext<P, D> {
  request: BackoutRequest<P>;
  plan: P;
  /** Checkpoint data kept in the job across steps, retries and crashes. */
  state: Record<string, unknown>;
  /** Persists checkpoint data immediately (before a write whose effect must be recognised later). */
  save(patch: Record<string, unknown>): Promise<void>;
  /** Edits this step's thread reply with live progress ("3/5 pods updated"); coalesced. */
  progress(text: string): Promise<void>;
  /** Posts a separate note in the thread, once per `key`. */
  note(key: string, text: string): Promise<void>;
  deps: D;
  dryRun: boolean;
  log: Logger;
  /** Aborted when the worker is shutting down: long waits should hand the job back. */
  signal: AbortSignal;
}

export interface Step<P, D> {
  name: string;
  /** What the step does, in the thread: "Patch the Deployment to revision 6's template". */
  label: string;
  /** Under DRY_RUN, mutating steps and those that only make sense after one are skipped. */
  dryRun?: 'run' | 'skip';
  run(ctx: StepContext<P, D>): Promise<StepResult>;
}

export interface JobDefinition<P, D> {
  kind: RequestKind;
  steps: Step<P, D>[];
  /** The plan in plain words, one line each, for the card. */
  describe(plan: P): string[];
  /** Extra buttons on a plan card waiting for approval, after Approve and Reject. */
  pendingButtons?(request: BackoutRequest<P>): CardButton[];
  /** Extra buttons for a finished or failed request (Retry is added by the runner). */
  buttons?(request: BackoutRequest<P>): CardButton[];
}

/** The job data BullMQ keeps; `completed` and `state` are the checkpoints. */
export interface JobData {
  requestId: string;
  run: number;
  completed: string[];
  state: Record<string, unknown>;
  /** Ms since epoch when the current step first started (for durations across delays). */
  stepStartedAt?: number;
}

export const JOBS_QUEUE = 'jobs';
export const TIMERS_QUEUE = 'timers';
