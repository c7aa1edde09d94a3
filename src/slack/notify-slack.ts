import type { WebAPICallResult } from '@slack/web-api';
import type { Metrics } from '../observability/metrics.js';

/** The one Web API entry point the notifier needs (a `WebClient` is one). */
export interface NotifySlack {
  apiCall(method: string, options?: Record<string, unknown>): Promise<WebAPICallResult>;
}

/** The metadata `event_type` that marks a message as posted by backout's outbox. */
export const OUTBOX_EVENT = 'backout_outbox_message';

/** Slack message metadata carrying the outbox key: the idempotency key of a post. */
export function outboxMetadata(key: string) {
  return { event_type: OUTBOX_EVENT, event_payload: { key } };
}

/**
 * What a call came to.
 * - `ok`: accepted. `rate_limited`: 429, nothing done.
 * - `refused`: Slack answered `ok:false` with `error`.
 * - `unknown`: no usable answer; the message may or may not exist now. `answered` says whether
 *   Slack did answer (a 5xx: it is done with the request) or not (a timeout, a reset: it may
 *   still be working on it). `unsent` when the request provably never left (connection refused).
 */
export type CallResult =
  | { kind: 'ok'; ts: string | undefined; body: Record<string, unknown> }
  | { kind: 'rate_limited'; retryAfterMs: number }
  | { kind: 'refused'; error: string }
  | { kind: 'unknown'; answered: boolean; unsent: boolean; why: string };

/** Slack errors that say nothing about the message: try again later, same content. */
export const TRANSIENT_ERRORS = new Set([
  'ratelimited',
  'rate_limited',
  'service_unavailable',
  'request_timeout',
  'internal_error',
  // "It's possible some aspect of the operation succeeded before the error was raised."
  'fatal_error',
]);
/** Refusals of the app itself, not of one message: every message waits until an operator fixes it. */
export const APP_WIDE_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'not_allowed_token_type',
  'ekm_access_denied',
  'team_is_restricted',
  'org_login_required',
]);
/** Errors after which a post may nevertheless exist: look before posting again. */
const MAYBE_POSTED = new Set(['internal_error', 'fatal_error', 'request_timeout']);

const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

export function createSlackCaller(slack: NotifySlack, metrics: Metrics) {
  return async function call(method: string, args: Record<string, unknown>): Promise<CallResult> {
    try {
      const res = await slack.apiCall(method, args);
      metrics.slackCalls.inc({ method, result: 'ok' });
      const ts = (res as { ts?: unknown }).ts;
      return {
        kind: 'ok',
        ts: typeof ts === 'string' ? ts : undefined,
        body: res as unknown as Record<string, unknown>,
      };
    } catch (err) {
      const e = err as {
        code?: string;
        retryAfter?: number;
        data?: { error?: string };
        statusCode?: number;
        original?: { name?: string; message?: string; cause?: { code?: string } };
        message?: string;
      };
      if (e.code === 'slack_webapi_rate_limited_error') {
        metrics.slackCalls.inc({ method, result: 'rate_limited' });
        metrics.slackRateLimited.inc({ method });
        return { kind: 'rate_limited', retryAfterMs: Math.max(1, Number(e.retryAfter ?? 1)) * 1000 };
      }
      if (e.code === 'slack_webapi_platform_error') {
        metrics.slackCalls.inc({ method, result: 'error' });
        const error = String(e.data?.error ?? 'unknown_error');
        if (MAYBE_POSTED.has(error)) return { kind: 'unknown', answered: true, unsent: false, why: error };
        return { kind: 'refused', error };
      }
      metrics.slackCalls.inc({ method, result: 'http_error' });
      if (e.code === 'slack_webapi_http_error') {
        return { kind: 'unknown', answered: true, unsent: false, why: `HTTP ${e.statusCode ?? '?'}` };
      }
      const cause = e.original?.cause?.code;
      return {
        kind: 'unknown',
        answered: false,
        unsent: cause !== undefined && NEVER_SENT.has(cause),
        why:
          e.original?.name === 'TimeoutError' ? 'timeout' : (e.original?.message ?? e.message ?? String(err)),
      };
    }
  };
}

export type SlackCaller = ReturnType<typeof createSlackCaller>;

/** Where to look for an earlier attempt, and from when. */
export interface PostedQuery {
  channel: string;
  key: string;
  /** The parent's ts when the post is a thread reply. */
  threadTs?: string;
  /** When the earliest attempt that might have posted began (ms since the epoch). */
  sinceMs: number;
}

/** Look back a little before the attempt: Slack's clock and ours differ. */
const CLOCK_SLACK_MS = 5 * 60_000;
const PAGE = 200;
const MAX_PAGES = 25;

/**
 * Looks for a message posted under `key` (its metadata) since an attempt began:
 * `conversations.replies` in the thread, or `conversations.history` at top level, both with
 * `include_all_metadata`. Returns its ts, `undefined` when Slack has no such message, or a
 * `CallResult` that is not `ok` when Slack could not be asked.
 */
export async function findPosted(
  call: SlackCaller,
  q: PostedQuery,
): Promise<{ ts: string | undefined } | { failed: Exclude<CallResult, { kind: 'ok' }> }> {
  const oldest = ((q.sinceMs - CLOCK_SLACK_MS) / 1000).toFixed(6);
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const method = q.threadTs ? 'conversations.replies' : 'conversations.history';
    const res = await call(method, {
      channel: q.channel,
      ...(q.threadTs ? { ts: q.threadTs } : {}),
      oldest,
      limit: PAGE,
      include_all_metadata: true,
      ...(cursor ? { cursor } : {}),
    });
    if (res.kind !== 'ok') return { failed: res };
    const body = res.body;
    const messages = Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : [];
    const hit = messages.find((m) => isOurs(m.metadata, q.key));
    if (hit && typeof hit.ts === 'string') return { ts: hit.ts };
    cursor = (body.response_metadata as { next_cursor?: string } | undefined)?.next_cursor || undefined;
    if (!cursor) return { ts: undefined };
  }
  return { ts: undefined };
}

function isOurs(metadata: unknown, key: string): boolean {
  if (typeof metadata !== 'object' || metadata === null) return false;
  const m = metadata as { event_type?: unknown; event_payload?: { key?: unknown } };
  return m.event_type === OUTBOX_EVENT && m.event_payload?.key === key;
}
