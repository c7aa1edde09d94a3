/**
 * The small family of errors backout raises on purpose. Each carries a stable `code`
 * and a message written for the person in Slack: what happened, what state things are
 * in, and what they can do next. `renderError` in `slack/cards.ts` is the one place
 * that turns them into Slack text.
 */
export type BackoutErrorCode =
  | 'usage'
  | 'policy'
  | 'stale_plan'
  | 'overridden'
  | 'busy'
  | 'not_found'
  | 'integration'
  | 'queue_unavailable'
  | 'config'
  | 'internal';

export class BackoutError extends Error {
  readonly code: BackoutErrorCode;
  /** A short next step for the user, shown under the message. */
  readonly hint: string | undefined;

  constructor(code: BackoutErrorCode, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = opts.hint;
  }
}

/** The command text could not be understood, or names something that does not exist. */
export class UsageError extends BackoutError {
  constructor(message: string, opts: { hint?: string } = {}) {
    super('usage', message, opts);
  }
}

/** The user may not do this here and now (rights, two-person rule, freeze). */
export class PolicyError extends BackoutError {
  constructor(message: string, opts: { hint?: string } = {}) {
    super('policy', message, opts);
  }
}

/** Live state no longer matches what was approved; nothing was changed. */
export class StalePlanError extends BackoutError {
  constructor(message: string, opts: { hint?: string } = {}) {
    super('stale_plan', message, opts);
  }
}

/**
 * Someone else's write replaced the job's change before it was verified (a GitOps controller
 * re-applying its template, a pipeline, a person): backout stops watching and says who.
 */
export class OverriddenError extends BackoutError {
  constructor(message: string, opts: { hint?: string } = {}) {
    super('overridden', message, opts);
  }
}

/** Another mutating request holds the target. */
export class BusyError extends BackoutError {
  constructor(message: string, opts: { hint?: string } = {}) {
    super('busy', message, opts);
  }
}

/** A Kubernetes object, GitHub release or request that should exist does not. */
export class NotFoundError extends BackoutError {
  constructor(message: string, opts: { hint?: string } = {}) {
    super('not_found', message, opts);
  }
}

/**
 * An external system (Kubernetes, GitHub, Prometheus, Slack) failed. `retryable` says
 * whether trying again later can help (5xx, timeouts, rate limits) or not (403, 422).
 */
export class IntegrationError extends BackoutError {
  readonly retryable: boolean;
  readonly system: string;
  constructor(system: string, message: string, opts: { retryable: boolean; hint?: string; cause?: unknown }) {
    super('integration', message, opts);
    this.system = system;
    this.retryable = opts.retryable;
  }
}

/** Redis (and so the queue) cannot be reached; nothing was filed or changed. */
export class QueueUnavailableError extends BackoutError {
  constructor(cause?: unknown) {
    super(
      'queue_unavailable',
      'The queue is unavailable (Redis cannot be reached), so nothing was changed.',
      {
        hint: 'Try again in a minute; if it persists, check Redis (`backout doctor`).',
        cause,
      },
    );
  }
}

export function isBackoutError(err: unknown): err is BackoutError {
  return err instanceof BackoutError;
}

const REDIS_DOWN =
  /Stream isn't writeable|Connection is closed|max retries per request|MaxRetriesPerRequest|ECONNREFUSED|ECONNRESET|connect ETIMEDOUT|Command timed out|enableOfflineQueue|Connection in subscriber mode|LOADING|^(?:MOVED|ASK|CROSSSLOT|READONLY|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|NOREPLICAS)\b|Cluster isn't ready|None of startup nodes is available|Failed to refresh slots cache/i;

/** True for the errors ioredis raises while Redis cannot be reached, or cannot serve backout's keys (failover, wrong node). */
export function isRedisUnavailable(err: unknown): boolean {
  return err instanceof Error && (REDIS_DOWN.test(err.message) || err.name === 'MaxRetriesPerRequestError');
}

/** Wraps anything thrown into a BackoutError, keeping the original as `cause`. */
export function asBackoutError(err: unknown): BackoutError {
  if (err instanceof BackoutError) return err;
  if (isRedisUnavailable(err)) return new QueueUnavailableError(err);
  const message = err instanceof Error ? err.message : String(err);
  return new BackoutError('internal', `Something went wrong inside backout: ${message}`, { cause: err });
}
