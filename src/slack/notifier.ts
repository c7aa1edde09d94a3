import type { KnownBlock } from '@slack/types';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../redis/client.js';
import type { OutboxBell } from './outbox-bell.js';
import { runScript } from '../redis/script.js';

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

/** One queued delivery. `urgent` entries (new cards) go ahead of other threads' backlog. */
export type OutboxEntry = { op: 'post' | 'update'; key: string; v: number; urgent?: boolean };

/** An update of a message whose post was never queued (its filer has not posted it yet). */
export function isUnqueuedMessage(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('message was never queued');
}

export const NOTIFY_QUEUE = 'notify';

/** Slack 5xx or network errors: retried with backoff for about a quarter of an hour; the sweep covers the rest. */
export const DRAIN_JOB_OPTIONS = {
  attempts: 11,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: true,
  removeOnFail: 1000,
} as const;
const KEEP_SECONDS = 30 * 86_400;
/** Lane scores: urgent heads first (in the order they were queued), then the other lanes in turn. */
export const NORMAL_BAND = 1e12;

/**
 * Redis layout. A channel's outbox is a set of lanes, one per thread (a top-level message
 * and every reply and edit to it share one lane), each a FIFO list; `lanes` scores each
 * non-empty lane by its head so that one drainer per channel delivers urgent heads first
 * and takes the other lanes in turn. Order is kept within a lane, never across lanes.
 */
export function notifyKeys(prefix: string) {
  return {
    msg: (key: string) => `${prefix}:notify:msg:${key}`,
    content: (key: string) => `${prefix}:notify:content:${key}`,
    lanes: (channel: string) => `${prefix}:notify:lanes:${channel}`,
    lane: (channel: string, lane: string) => `${prefix}:notify:lane:${channel}:${lane}`,
    seq: (channel: string) => `${prefix}:notify:seq:${channel}`,
    lock: (channel: string) => `${prefix}:notify:lock:${channel}`,
    blocked: (channel: string) => `${prefix}:notify:blocked:${channel}`,
    sent: (channel: string) => `${prefix}:notify:sent:${channel}`,
    /** Channels whose outbox has a lane: what the sweep re-queues drains for (see notify-worker.ts). */
    backlog: () => `${prefix}:notify:backlog`,
    /** Messages Slack refused for good, newest first (capped). */
    dead: () => `${prefix}:notify:dead`,
  };
}

/**
 * Queues one outbox entry atomically: registers the message (once per key for posts) and
 * its lane, stores its latest content with a version, and appends to its lane (a channel's first
 * lane also puts the channel in the backlog index the sweep reads).
 * KEYS: msg, content, notifyPrefix, parentMsg. ARGV: op, key, channel|'', body, mode, threadTs, ttl, parentKey, band.
 * Returns the channel ('' when there is nothing to send: already posted / unknown key), and 1
 * when a drainer holds the channel's lock (it takes this entry before it lets go; see drain.ts).
 */
const ENQUEUE = `
local msg, content, parent, np = KEYS[1], KEYS[2], KEYS[4], KEYS[3]
local op, key, channel, body, mode, threadTs, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local lane
if mode == 'reply' then
  channel = redis.call('HGET', parent, 'channel')
  if not channel then return redis.error_reply('parent message was never queued: ' .. parent) end
  lane = redis.call('HGET', parent, 'lane') or ('key:' .. ARGV[8])
end
local existing = redis.call('HGET', msg, 'channel')
if mode == 'update' then
  if not existing then return redis.error_reply('message was never queued: ' .. key) end
  channel = existing
  lane = redis.call('HGET', msg, 'lane') or ('key:' .. key)
elseif existing then
  return {'', 0}
else
  if mode == 'create' then
    if threadTs ~= '' then lane = 'ts:' .. threadTs else lane = 'key:' .. key end
  end
  redis.call('HSET', msg, 'channel', channel, 'lane', lane)
  if threadTs ~= '' then redis.call('HSET', msg, 'threadTs', threadTs) end
  if mode == 'reply' then redis.call('HSET', msg, 'parentKey', ARGV[8]) end
end
local v = redis.call('HINCRBY', content, 'v', 1)
redis.call('HSET', content, 'body', body)
redis.call('EXPIRE', content, ttl)
redis.call('EXPIRE', msg, ttl)
local entry = {op = op, key = key, v = v}
if ARGV[9] == '0' then entry.urgent = true end
local list = np .. 'lane:' .. channel .. ':' .. lane
if redis.call('RPUSH', list, cjson.encode(entry)) == 1 then
  local seq = redis.call('INCR', np .. 'seq:' .. channel)
  redis.call('ZADD', np .. 'lanes:' .. channel, tonumber(ARGV[9]) + seq, lane)
  redis.call('SADD', np .. 'backlog', channel)
end
return {channel, redis.call('EXISTS', np .. 'lock:' .. channel)}
`;

/**
 * The producer side of the one path every Slack message and edit takes. A message is
 * written to its thread's lane of the channel's outbox in Redis (so order within a thread
 * is kept, and a new card need not wait behind other threads' backlog) and a drain job is
 * queued; `notify-worker.ts` delivers. Because
 * content is stored by key with a version, a burst of edits to one card becomes one
 * `chat.update` with the latest content, and a key is posted at most once.
 */
export class QueueNotifier implements Notifier {
  private readonly keys: ReturnType<typeof notifyKeys>;

  constructor(
    private readonly redis: RedisClient,
    private readonly queue: Queue,
    private readonly prefix: string,
    /** Wakes this process's drainer when a card is queued for its channel. */
    private readonly bell?: OutboxBell,
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
    const [channel, drainerHolds] = (await runScript(
      this.redis,
      ENQUEUE,
      4,
      this.keys.msg(key),
      this.keys.content(key),
      `${this.prefix}:notify:`,
      this.keys.msg(where.parentKey ?? key),
      op,
      key,
      where.channel ?? '',
      JSON.stringify(message),
      mode,
      where.threadTs ?? '',
      KEEP_SECONDS,
      where.parentKey ?? '',
      // A new message of its own (a card) is urgent; thread replies and edits wait their turn.
      mode === 'create' ? 0 : NORMAL_BAND,
    )) as [string, number];
    // A drainer holding the channel looks at its outbox again after letting go, so it takes this
    // entry: no drain job is needed (a burst of replies in a busy channel queued one each).
    if (drainerHolds === 1) {
      if (mode === 'create') this.bell?.ring(channel);
      return;
    }
    // Queue a drain even when nothing new was added: a crash between an earlier enqueue
    // and its drain job must not strand that entry.
    const target = channel || (await this.redis.hget(this.keys.msg(key), 'channel'));
    if (target) await this.queue.add('drain', { channel: target }, DRAIN_JOB_OPTIONS);
  }
}
