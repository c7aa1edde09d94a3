import { DelayedError, type Job } from 'bullmq';
import type { RedisClient } from '../redis/client.js';
import { scanKeys } from '../redis/scan.js';
import { ErrorCode, type WebClient } from '@slack/web-api';
import type { KnownBlock } from '@slack/types';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { notifyKeys, type OutboxEntry, type SlackMessage } from './notifier.js';

/** Slack answers that mean "this message can never be delivered here". */
const UNDELIVERABLE = new Set([
  'not_in_channel',
  'channel_not_found',
  'is_archived',
  'restricted_action',
  'restricted_action_read_only_channel',
  'restricted_action_thread_only_channel',
  'restricted_action_non_threadable_channel',
  'team_access_not_granted',
]);
/** Edits that can never succeed (the message is gone or too old to edit). */
const UNEDITABLE = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed', 'is_inactive']);
/** Our own content was refused; retried once as plain text. */
const BAD_CONTENT = new Set([
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'no_text',
  'too_many_attachments',
]);

const LOCK_MS = 15_000;
/**
 * Per channel pacing. Posts: at most 3 in any 3 s (Slack allows about one message a
 * second per channel, with short bursts). Edits are not bound by that rule (chat.update
 * is Tier 3, app-wide), so they get a looser window; a 429 still pauses the channel.
 */
const PACE = {
  'chat.postMessage': { burst: 3, windowMs: 3_000 },
  'chat.update': { burst: 4, windowMs: 2_000 },
} as const;

export interface DrainDeps {
  redis: RedisClient;
  prefix: string;
  slack: WebClient;
  log: Logger;
  metrics: Metrics;
  /** Told when a message can never be delivered (e.g. the bot is not in the channel). */
  onUndeliverable: (key: string, channel: string, error: string) => Promise<void>;
}

type Outcome = { kind: 'done' } | { kind: 'rate_limited'; retryAfterMs: number };

/**
 * Delivers a channel's outbox in order. One drainer per channel at a time (a Redis lock
 * owned by the drain job's id, so the same job re-run after a crash takes its own lock
 * back); other drain jobs for the channel end at once because the holder re-checks the
 * outbox after releasing. On 429 the channel is paused for Retry-After and the job is
 * moved to delayed; on 5xx or network errors it throws and BullMQ retries with backoff.
 * Nothing leaves the outbox until Slack has accepted it or refused it for good.
 */
export function createDrainProcessor(deps: DrainDeps) {
  const keys = notifyKeys(deps.prefix);
  const { redis } = deps;

  async function acquire(channel: string, owner: string): Promise<boolean> {
    const got = await redis.set(keys.lock(channel), owner, 'PX', LOCK_MS, 'NX');
    if (got === 'OK') return true;
    if ((await redis.get(keys.lock(channel))) === owner) {
      await redis.pexpire(keys.lock(channel), LOCK_MS);
      return true;
    }
    return false;
  }

  async function release(channel: string, owner: string): Promise<void> {
    await redis.eval(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
      1,
      keys.lock(channel),
      owner,
    );
  }

  async function pace(channel: string, method: keyof typeof PACE): Promise<void> {
    const { burst, windowMs } = PACE[method];
    const key = `${keys.sent(channel)}:${method}`;
    for (;;) {
      const now = Date.now();
      await redis.zremrangebyscore(key, 0, now - windowMs);
      const recent = await redis.zrange(key, '0', '-1', 'WITHSCORES');
      if (recent.length / 2 < burst) {
        await redis
          .multi()
          .zadd(key, now, `${now}-${Math.random()}`)
          .pexpire(key, windowMs * 2)
          .exec();
        return;
      }
      const oldest = Number(recent[1]);
      await new Promise((r) => setTimeout(r, Math.max(10, oldest + windowMs - now)));
    }
  }

  type CallResult =
    | { ok: true; ts: string | undefined }
    | { ok: false; rateLimitedMs: number; error?: undefined }
    | { ok: false; error: string; rateLimitedMs?: undefined };

  async function call(
    method: 'chat.postMessage' | 'chat.update',
    args: Record<string, unknown>,
  ): Promise<CallResult> {
    try {
      const res = await deps.slack.apiCall(method, args);
      deps.metrics.slackCalls.inc({ method, result: 'ok' });
      const ts = (res as { ts?: unknown }).ts;
      return { ok: true as const, ts: typeof ts === 'string' ? ts : undefined };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === ErrorCode.RateLimitedError) {
        deps.metrics.slackCalls.inc({ method, result: 'rate_limited' });
        deps.metrics.slackRateLimited.inc({ method });
        const retryAfter = Number((err as { retryAfter?: number }).retryAfter ?? 1);
        return { ok: false as const, rateLimitedMs: Math.max(1, retryAfter) * 1000 };
      }
      if (code === ErrorCode.PlatformError) {
        deps.metrics.slackCalls.inc({ method, result: 'error' });
        const error = String((err as { data?: { error?: string } }).data?.error ?? 'unknown_error');
        return { ok: false as const, error };
      }
      deps.metrics.slackCalls.inc({ method, result: 'http_error' });
      throw err;
    }
  }

  async function deliver(channel: string, entry: OutboxEntry): Promise<Outcome> {
    const msg = await redis.hgetall(keys.msg(entry.key));
    const content = await redis.hgetall(keys.content(entry.key));
    if (msg.failed || !content.body) return { kind: 'done' };
    const version = Number(content.v);
    const sent = Number(msg.sentVersion ?? 0);
    const body = JSON.parse(content.body) as SlackMessage;

    let args: Record<string, unknown>;
    let method: 'chat.postMessage' | 'chat.update';
    if (entry.op === 'post') {
      if (msg.ts) return { kind: 'done' };
      let threadTs = msg.threadTs;
      if (msg.parentKey) {
        const parent = await redis.hgetall(keys.msg(msg.parentKey));
        if (parent.failed || !parent.ts) {
          await redis.hset(keys.msg(entry.key), 'failed', parent.failed ?? 'parent_not_posted');
          return { kind: 'done' };
        }
        threadTs = parent.threadTs ?? parent.ts;
      }
      method = 'chat.postMessage';
      args = {
        channel,
        ...messageArgs(body),
        ...(threadTs ? { thread_ts: threadTs } : {}),
        unfurl_links: false,
      };
    } else {
      if (entry.v < version || sent >= version || !msg.ts) return { kind: 'done' };
      method = 'chat.update';
      args = { channel, ts: msg.ts, ...messageArgs(body) };
    }

    await pace(channel, method);
    let result = await call(method, args);
    if (!result.ok && result.error !== undefined && BAD_CONTENT.has(result.error)) {
      deps.log.error(
        { key: entry.key, error: result.error },
        'Slack refused a message body; sending it as plain text',
      );
      result = await call(method, { ...args, blocks: [], text: truncate(body.text, 3900) });
    }
    if (result.ok) {
      await redis.hset(keys.msg(entry.key), {
        sentVersion: String(version),
        ...(result.ts && method === 'chat.postMessage' ? { ts: result.ts } : {}),
      });
      return { kind: 'done' };
    }
    if (result.rateLimitedMs !== undefined)
      return { kind: 'rate_limited', retryAfterMs: result.rateLimitedMs };
    const error = result.error ?? 'unknown_error';
    if (method === 'chat.update' && UNEDITABLE.has(error)) {
      deps.log.warn({ key: entry.key, error }, 'Slack message can no longer be edited; skipping the edit');
      return { kind: 'done' };
    }
    if (UNDELIVERABLE.has(error) || BAD_CONTENT.has(error)) {
      await redis.hset(keys.msg(entry.key), 'failed', error);
      deps.log.warn({ key: entry.key, channel, error }, 'Slack message cannot be delivered');
      await deps.onUndeliverable(entry.key, channel, error).catch((err: unknown) => {
        deps.log.error(
          { err, key: entry.key },
          'could not tell the requester about an undeliverable message',
        );
      });
      return { kind: 'done' };
    }
    // invalid_auth, missing_scope, fatal_error…: keep the entry; BullMQ retries with backoff.
    throw new Error(`Slack ${method} failed: ${error}`);
  }

  return async function drain(job: Job<{ channel: string }>, token?: string): Promise<void> {
    const { channel } = job.data;
    const owner = `drain-${job.id ?? 'unknown'}`;
    for (let round = 0; round < 1000; round++) {
      if ((await redis.pttl(keys.blocked(channel))) > 0) {
        // The job that met the 429 comes back when Slack allows; nothing to do here.
        return;
      }
      if (!(await acquire(channel, owner))) return;
      try {
        for (;;) {
          const raw = await redis.lindex(keys.outbox(channel), 0);
          if (raw === null) break;
          const outcome = await deliver(channel, JSON.parse(raw) as OutboxEntry);
          if (outcome.kind === 'rate_limited') {
            await redis.set(keys.blocked(channel), '1', 'PX', outcome.retryAfterMs);
            deps.log.warn(
              { channel, retryAfterMs: outcome.retryAfterMs },
              'Slack rate limit: pausing this channel',
            );
            await job.moveToDelayed(Date.now() + outcome.retryAfterMs, token);
            throw new DelayedError();
          }
          await redis.lpop(keys.outbox(channel));
          await redis.pexpire(keys.lock(channel), LOCK_MS);
        }
      } finally {
        await release(channel, owner);
      }
      // Someone may have queued while we held the lock and ended at once: look again.
      if ((await redis.llen(keys.outbox(channel))) === 0) return;
    }
  };
}

function messageArgs(message: SlackMessage): { text: string; blocks?: KnownBlock[] } {
  return { text: message.text, ...(message.blocks ? { blocks: message.blocks } : {}) };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Lists channels whose outbox is not empty (for the periodic sweep that re-queues drains). */
export async function channelsWithBacklog(redis: RedisClient, prefix: string): Promise<string[]> {
  const pattern = `${prefix}:notify:outbox:*`;
  return (await scanKeys(redis, pattern)).map((key) => key.slice(pattern.length - 1));
}
