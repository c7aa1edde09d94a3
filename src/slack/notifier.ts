import type { KnownBlock } from '@slack/types';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../redis/client.js';

export interface SlackMessage {
  text: string;
  blocks?: KnownBlock[];
}

/** Where a message ended up in Slack, once delivered. */
export interface MessageRef {
  channel: string;
  ts?: string;
  /** The thread it lives in (its own ts for a thread parent posted at top level). */
  threadTs?: string;
  failed?: string;
}

export interface Notifier {
  /** Posts a message once per key, at top level or into an existing thread. */
  post(key: string, channel: string, message: SlackMessage, opts?: { threadTs?: string }): Promise<void>;
  /** Replies in the thread of the message posted under `parentKey`; once per key. */
  reply(parentKey: string, key: string, message: SlackMessage): Promise<void>;
  /** Edits the message posted under `key`; successive edits are coalesced (the latest wins). */
  update(key: string, message: SlackMessage): Promise<void>;
  /** Posts a reply under `parentKey`, or edits it if it was already posted under `key`. */
  upsertReply(parentKey: string, key: string, message: SlackMessage): Promise<void>;
  ref(key: string): Promise<MessageRef | undefined>;
}

export type OutboxEntry = { op: 'post' | 'update'; key: string; v: number };

export const NOTIFY_QUEUE = 'notify';

/** Slack 5xx or network errors: retried with backoff for about a quarter of an hour; the sweep covers the rest. */
export const DRAIN_JOB_OPTIONS = {
  attempts: 11,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: true,
  removeOnFail: 1000,
} as const;
const KEEP_SECONDS = 30 * 86_400;

export function notifyKeys(prefix: string) {
  return {
    msg: (key: string) => `${prefix}:notify:msg:${key}`,
    content: (key: string) => `${prefix}:notify:content:${key}`,
    outbox: (channel: string) => `${prefix}:notify:outbox:${channel}`,
    lock: (channel: string) => `${prefix}:notify:lock:${channel}`,
    blocked: (channel: string) => `${prefix}:notify:blocked:${channel}`,
    sent: (channel: string) => `${prefix}:notify:sent:${channel}`,
  };
}

/**
 * Queues one outbox entry atomically: registers the message (once per key for posts),
 * stores its latest content with a version, and appends to the channel's outbox.
 * KEYS: msg, content, outboxPrefix, parentMsg. ARGV: op, key, channel|'', body, mode, threadTs, ttl.
 * Returns the channel, or '' when there is nothing to send (already posted / unknown key).
 */
const ENQUEUE = `
local msg, content, parent = KEYS[1], KEYS[2], KEYS[4]
local op, key, channel, body, mode, threadTs, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if mode == 'reply' then
  channel = redis.call('HGET', parent, 'channel')
  if not channel then return redis.error_reply('parent message was never queued: ' .. parent) end
end
local existing = redis.call('HGET', msg, 'channel')
if mode == 'update' then
  if not existing then return redis.error_reply('message was never queued: ' .. key) end
  channel = existing
elseif existing then
  return ''
else
  redis.call('HSET', msg, 'channel', channel)
  if threadTs ~= '' then redis.call('HSET', msg, 'threadTs', threadTs) end
  if mode == 'reply' then redis.call('HSET', msg, 'parentKey', ARGV[8]) end
end
local v = redis.call('HINCRBY', content, 'v', 1)
redis.call('HSET', content, 'body', body)
redis.call('EXPIRE', content, ttl)
redis.call('EXPIRE', msg, ttl)
redis.call('RPUSH', KEYS[3] .. channel, cjson.encode({op = op, key = key, v = v}))
return channel
`;

/**
 * The producer side of the one path every Slack message and edit takes. A message is
 * written to a per-channel outbox in Redis (so order within a channel, and so within a
 * thread, is kept) and a drain job is queued; `notify-worker.ts` delivers. Because
 * content is stored by key with a version, a burst of edits to one card becomes one
 * `chat.update` with the latest content, and a key is posted at most once.
 */
export class QueueNotifier implements Notifier {
  private readonly keys: ReturnType<typeof notifyKeys>;

  constructor(
    private readonly redis: RedisClient,
    private readonly queue: Queue,
    prefix: string,
  ) {
    this.keys = notifyKeys(prefix);
  }

  post(key: string, channel: string, message: SlackMessage, opts: { threadTs?: string } = {}): Promise<void> {
    return this.enqueue('post', 'create', key, message, { channel, threadTs: opts.threadTs ?? '' });
  }

  reply(parentKey: string, key: string, message: SlackMessage): Promise<void> {
    return this.enqueue('post', 'reply', key, message, { parentKey });
  }

  update(key: string, message: SlackMessage): Promise<void> {
    return this.enqueue('update', 'update', key, message, {});
  }

  async upsertReply(parentKey: string, key: string, message: SlackMessage): Promise<void> {
    if (await this.redis.hexists(this.keys.msg(key), 'channel')) return this.update(key, message);
    return this.reply(parentKey, key, message);
  }

  async ref(key: string): Promise<MessageRef | undefined> {
    const h = await this.redis.hgetall(this.keys.msg(key));
    if (!h.channel) return undefined;
    const threadTs = h.threadTs ?? (h.parentKey ? undefined : h.ts);
    return {
      channel: h.channel,
      ...(h.ts ? { ts: h.ts } : {}),
      ...(threadTs ? { threadTs } : {}),
      ...(h.failed ? { failed: h.failed } : {}),
    };
  }

  private async enqueue(
    op: OutboxEntry['op'],
    mode: 'create' | 'reply' | 'update',
    key: string,
    message: SlackMessage,
    where: { channel?: string; threadTs?: string; parentKey?: string },
  ): Promise<void> {
    const channel = (await this.redis.eval(
      ENQUEUE,
      4,
      this.keys.msg(key),
      this.keys.content(key),
      this.keys.outbox(''),
      this.keys.msg(where.parentKey ?? key),
      op,
      key,
      where.channel ?? '',
      JSON.stringify(message),
      mode,
      where.threadTs ?? '',
      KEEP_SECONDS,
      where.parentKey ?? '',
    )) as string;
    // Queue a drain even when nothing new was added: a crash between an earlier enqueue
    // and its drain job must not strand that entry.
    const target = channel || (await this.redis.hget(this.keys.msg(key), 'channel'));
    if (target) await this.queue.add('drain', { channel: target }, DRAIN_JOB_OPTIONS);
  }
}
