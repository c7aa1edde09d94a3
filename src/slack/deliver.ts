import type { RedisClient } from '../redis/client.js';
import type { KnownBlock } from '@slack/types';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { notifyKeys, type OutboxEntry, type SlackMessage } from './notifier.js';
import type { DrainLock } from './notify-lock.js';
import { runScript } from '../redis/script.js';
import {
  APP_WIDE_ERRORS,
  createSlackCaller,
  findPosted,
  outboxMetadata,
  TRANSIENT_ERRORS,
  type CallResult,
  type NotifySlack,
} from './notify-slack.js';
import { recordDeadLetter } from './dead-letters.js';

/** Slack answers that mean "this message can never be delivered here": no plain-text retry. */
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
/** Edits that can never succeed (the message is gone or too old to edit): dropped quietly. */
const UNEDITABLE = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed', 'is_inactive']);

/**
 * How long a post that got no answer (a timeout, a crash mid-call) may still land in Slack.
 * Until then its thread waits and looks for it; after that, not found means not posted.
 */
const SETTLE_MS = 60_000;
/** How often a waiting thread looks again. */
const LOOK_AGAIN_MS = 1_000;
/**
 * Per channel pacing. Posts: at most 3 in any 3 s (Slack allows about one message a
 * second per channel, with short bursts). Edits are not bound by that rule (chat.update
 * is Tier 3, app-wide), so they get a looser window; a 429 still pauses the channel.
 */
const PACE = {
  'chat.postMessage': { burst: 3, windowMs: 3_000 },
  'chat.update': { burst: 4, windowMs: 2_000 },
} as const;

/**
 * A channel's pace window for one method, in one call: drops sends older than the window, and
 * returns how long until a slot is free (0: one is free now, and with ARGV take = '1' it is taken).
 * KEYS: sent. ARGV: now, windowMs, burst, steady gap (ms between posts that are not urgent),
 * take, member.
 */
const SLOT = `
local now, windowMs = tonumber(ARGV[1]), tonumber(ARGV[2])
local burst, steady = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - windowMs)
local listed = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local n = #listed / 2
local newest = n > 0 and tonumber(listed[#listed]) or nil
if n < burst and (newest == nil or now - newest >= steady) then
  if ARGV[5] == '1' then
    redis.call('ZADD', KEYS[1], now, ARGV[6])
    redis.call('PEXPIRE', KEYS[1], windowMs * 2)
  end
  return 0
end
local free
if n < burst then free = newest + steady else free = tonumber(listed[2]) + windowMs end
return math.max(10, math.ceil(free - now))
`;

/** A message's record and its latest content, in one call. KEYS: msg, content. */
const READ = `return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}`;

/** A hash as HGETALL lists it (field, value, …) as an object. */
function fieldsOf(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}

/** Named points of one delivery, for tests that crash the process there. */
export type DrainPoint = 'before-call' | 'answered' | 'recorded';

export interface DeliveryDeps {
  redis: RedisClient;
  prefix: string;
  slack: NotifySlack;
  log: Logger;
  metrics: Metrics;
  /** Told when a message can never be delivered (e.g. the bot is not in the channel). */
  onUndeliverable: (key: string, channel: string, error: string) => Promise<void>;
  /** Overrides for tests that compress time. */
  settleMs?: number;
  pace?: Record<keyof typeof PACE, { burst: number; windowMs: number }>;
  /** Awaited at each named point of a post (tests stop or crash the process there). */
  checkpoint?: (point: DrainPoint, where: { channel: string; key: string }) => void | Promise<void>;
}

export type Outcome =
  { kind: 'done' } | { kind: 'rate_limited'; retryAfterMs: number } | { kind: 'wait'; ms: number };
export const DONE: Outcome = { kind: 'done' };

/**
 * Delivers one outbox entry, under the channel's drain lock (every record fenced by it).
 *
 * Exactly once: every post carries its outbox key as Slack message metadata. Before a post
 * is sent, the attempt is recorded; after any answer that leaves it unknown whether Slack
 * posted (a timeout, a 5xx, a crash, a lost lock), the next drainer finds that record and
 * looks the key up in the channel or thread before posting again, and waits while an
 * unanswered attempt may still land. Edits are idempotent and simply sent again.
 *
 * Never blocking: a refusal that is not known to be transient moves the message to the
 * dead-letter list (after a plain-text attempt) and the lane goes on. 5xx and network
 * errors throw, and BullMQ retries with backoff.
 */
export function createDelivery(deps: DeliveryDeps) {
  const keys = notifyKeys(deps.prefix);
  const { redis, log } = deps;
  const call = createSlackCaller(deps.slack, deps.metrics);
  const settleMs = deps.settleMs ?? SETTLE_MS;
  const checkpoint = deps.checkpoint ?? (() => undefined);
  const paceLimits = deps.pace ?? PACE;
  const sentKey = (channel: string, method: keyof typeof PACE) => `${keys.sent(channel)}:${method}`;

  /**
   * How long until the channel's window for `method` has a free slot (0: one is free now; taken
   * when `take`). Posts that are not urgent also keep to one a second, so a burst slot is left for
   * a card. One call: this runs for every post and edit, and again while a post waits for its slot.
   */
  async function slot(channel: string, method: keyof typeof PACE, urgent: boolean, take: boolean) {
    const { burst, windowMs } = paceLimits[method];
    const steady = method === 'chat.postMessage' && !urgent ? windowMs / burst : 0;
    const now = Date.now();
    return Number(
      await runScript(
        redis,
        SLOT,
        1,
        sentKey(channel, method),
        now,
        windowMs,
        burst,
        steady,
        take ? '1' : '0',
        `${now}-${Math.random()}`,
      ),
    );
  }

  const slotIn = (channel: string, method: keyof typeof PACE, urgent: boolean) =>
    slot(channel, method, urgent, false);

  /** Waits for a free slot in the channel's window for `method` and takes it. */
  async function pace(channel: string, method: keyof typeof PACE, opts: { urgent?: boolean } = {}) {
    for (let wait; (wait = await slot(channel, method, opts.urgent === true, true)) > 0;) {
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  async function deadLetter(
    lock: DrainLock,
    entry: OutboxEntry,
    channel: string,
    error: string,
    fallback: CallResult | undefined,
  ): Promise<Outcome> {
    const method = entry.op === 'post' ? 'chat.postMessage' : 'chat.update';
    const delivered = fallback?.kind === 'ok';
    if (!delivered && entry.op === 'post') await lock.writeHash(keys.msg(entry.key), { failed: error });
    await recordDeadLetter(redis, deps.prefix, {
      key: entry.key,
      channel,
      method,
      error,
      fallback: !fallback
        ? 'not tried'
        : fallback.kind === 'ok'
          ? 'delivered as plain text'
          : `refused too (${fallback.kind === 'refused' ? fallback.error : fallback.kind})`,
    });
    deps.metrics.slackDeadLetters.inc({ method, error });
    log.error(
      { key: entry.key, channel, method, error, plainText: delivered },
      delivered
        ? 'Slack refused a message for good; its plain-text version was delivered instead (see the dead-letter list)'
        : 'Slack refused a message for good; moved it to the dead-letter list and went on with the channel',
    );
    if (!delivered || entry.op === 'post') {
      await deps.onUndeliverable(entry.key, channel, error).catch((err: unknown) => {
        log.error({ err, key: entry.key }, 'could not tell the requester about an undeliverable message');
      });
    }
    return DONE;
  }

  /** What to do with a refusal: retry later (throws), or give up on this message. */
  function refusedForGood(method: string, error: string): boolean {
    if (TRANSIENT_ERRORS.has(error)) throw new Error(`Slack ${method} failed: ${error}; will retry`);
    if (APP_WIDE_ERRORS.has(error)) {
      log.error(
        { method, error },
        'Slack refused the app itself; every message waits until `backout doctor` passes',
      );
      throw new Error(`Slack ${method} failed: ${error}`);
    }
    return true;
  }

  async function recordPosted(
    lock: DrainLock,
    channel: string,
    entry: OutboxEntry,
    ts: string,
    version: number,
  ): Promise<void> {
    await lock.writeHash(keys.msg(entry.key), { ts, sentVersion: String(version) }, [
      'attemptAt',
      'attemptAnswered',
    ]);
    await checkpoint('recorded', { channel, key: entry.key });
  }

  async function deliverPost(
    lock: DrainLock,
    channel: string,
    entry: OutboxEntry,
    msg: Record<string, string>,
    body: SlackMessage,
    version: number,
  ): Promise<Outcome> {
    if (msg.ts) return DONE;
    const msgKey = keys.msg(entry.key);
    let threadTs = msg.threadTs;
    if (msg.parentKey) {
      const parent = await redis.hgetall(keys.msg(msg.parentKey));
      if (parent.failed || !parent.ts) {
        await lock.writeHash(msgKey, { failed: parent.failed ?? 'parent_not_posted' });
        return DONE;
      }
      threadTs = parent.threadTs ?? parent.ts;
    }

    if (msg.attemptAt) {
      // An earlier attempt may have posted it: look before posting again.
      const since = Number(msg.attemptAt);
      const found = await findPosted(call, {
        channel,
        key: entry.key,
        ...(threadTs ? { threadTs } : {}),
        sinceMs: since,
      });
      if ('ts' in found && found.ts) {
        log.info(
          { key: entry.key, channel },
          'an earlier attempt had posted this message; recording it, not posting again',
        );
        await recordPosted(lock, channel, entry, found.ts, version);
        return DONE;
      }
      if ('failed' in found) {
        const f = found.failed;
        if (f.kind === 'rate_limited') return f;
        if (f.kind === 'unknown')
          throw new Error(`could not look for an earlier post in ${channel}: ${f.why}`);
        log.warn(
          { key: entry.key, channel, error: f.error },
          'cannot read the channel to look for an earlier post (see `backout doctor`); posting again once it cannot still land',
        );
      }
      const looked = !('failed' in found);
      const settled = (looked && msg.attemptAnswered === '1') || Date.now() - since >= settleMs;
      if (!settled)
        return { kind: 'wait', ms: Math.max(50, Math.min(LOOK_AGAIN_MS, since + settleMs - Date.now())) };
    }

    const args = {
      channel,
      ...messageArgs(body),
      ...(threadTs ? { thread_ts: threadTs } : {}),
      unfurl_links: false,
      metadata: outboxMetadata(entry.key),
    };
    await pace(channel, 'chat.postMessage', { urgent: entry.urgent === true });
    await lock.writeHash(msgKey, { attemptAt: String(Date.now()) }, ['attemptAnswered']);
    await checkpoint('before-call', { channel, key: entry.key });
    const result = await call('chat.postMessage', args);
    await checkpoint('answered', { channel, key: entry.key });
    return afterPost(lock, channel, entry, version, result, async () =>
      call('chat.postMessage', { ...args, blocks: undefined, text: plainText(body.text) }),
    );
  }

  async function afterPost(
    lock: DrainLock,
    channel: string,
    entry: OutboxEntry,
    version: number,
    result: CallResult,
    plain: () => Promise<CallResult>,
  ): Promise<Outcome> {
    const msgKey = keys.msg(entry.key);
    switch (result.kind) {
      case 'ok':
        if (!result.ts) throw new Error('Slack accepted a post but gave no ts');
        await recordPosted(lock, channel, entry, result.ts, version);
        return DONE;
      case 'rate_limited':
        await lock.writeHash(msgKey, {}, ['attemptAt', 'attemptAnswered']);
        return result;
      case 'unknown':
        if (result.unsent) await lock.writeHash(msgKey, {}, ['attemptAt', 'attemptAnswered']);
        else if (result.answered) await lock.writeHash(msgKey, { attemptAnswered: '1' });
        throw new Error(
          `Slack chat.postMessage gave no usable answer (${result.why}); will look before posting again`,
        );
      case 'refused': {
        // Slack answered, and did not post.
        if (TRANSIENT_ERRORS.has(result.error) || APP_WIDE_ERRORS.has(result.error)) {
          await lock.writeHash(msgKey, {}, ['attemptAt', 'attemptAnswered']);
        }
        if (!refusedForGood('chat.postMessage', result.error)) return DONE;
        if (UNDELIVERABLE.has(result.error)) return deadLetter(lock, entry, channel, result.error, undefined);
        log.warn(
          { key: entry.key, error: result.error },
          'Slack refused a message; sending it as plain text',
        );
        const second = await plain();
        if (second.kind === 'ok' && second.ts) await recordPosted(lock, channel, entry, second.ts, version);
        else if (second.kind === 'rate_limited') return second;
        else if (second.kind === 'unknown') {
          if (second.answered) await lock.writeHash(msgKey, { attemptAnswered: '1' });
          throw new Error(
            `Slack chat.postMessage gave no usable answer (${second.why}); will look before posting again`,
          );
        }
        return deadLetter(lock, entry, channel, result.error, second);
      }
    }
  }

  async function deliverUpdate(
    lock: DrainLock,
    channel: string,
    entry: OutboxEntry,
    msg: Record<string, string>,
    body: SlackMessage,
    version: number,
  ): Promise<Outcome> {
    const sent = Number(msg.sentVersion ?? 0);
    if (entry.v < version || sent >= version || !msg.ts) return DONE;
    const args = { channel, ts: msg.ts, ...messageArgs(body) };
    await pace(channel, 'chat.update');
    const result = await call('chat.update', args);
    if (result.kind === 'ok') {
      await lock.writeHash(keys.msg(entry.key), { sentVersion: String(version) });
      return DONE;
    }
    if (result.kind === 'rate_limited') return result;
    // An edit sent twice is the same edit: no need to look first.
    if (result.kind === 'unknown') throw new Error(`Slack chat.update gave no usable answer (${result.why})`);
    if (!refusedForGood('chat.update', result.error)) return DONE;
    if (UNEDITABLE.has(result.error)) {
      log.warn(
        { key: entry.key, error: result.error },
        'Slack message can no longer be edited; skipping the edit',
      );
      return DONE;
    }
    if (UNDELIVERABLE.has(result.error)) return deadLetter(lock, entry, channel, result.error, undefined);
    const second = await call('chat.update', { ...args, blocks: [], text: plainText(body.text) });
    if (second.kind === 'ok') await lock.writeHash(keys.msg(entry.key), { sentVersion: String(version) });
    else if (second.kind === 'rate_limited') return second;
    else if (second.kind === 'unknown')
      throw new Error(`Slack chat.update gave no usable answer (${second.why})`);
    return deadLetter(lock, entry, channel, result.error, second);
  }

  async function deliver(lock: DrainLock, channel: string, entry: OutboxEntry): Promise<Outcome> {
    const [msgFields, contentFields] = (await runScript(
      redis,
      READ,
      2,
      keys.msg(entry.key),
      keys.content(entry.key),
    )) as [string[], string[]];
    const msg = fieldsOf(msgFields);
    const content = fieldsOf(contentFields);
    if (msg.failed || !content.body) return DONE;
    const body = JSON.parse(content.body) as SlackMessage;
    const version = Number(content.v);
    return entry.op === 'post'
      ? deliverPost(lock, channel, entry, msg, body, version)
      : deliverUpdate(lock, channel, entry, msg, body, version);
  }

  return { deliver, slotIn };
}

function messageArgs(message: SlackMessage): { text: string; blocks?: KnownBlock[] } {
  return { text: message.text, ...(message.blocks ? { blocks: message.blocks } : {}) };
}

/** The plain-text fallback: the message's own text, within Slack's limit, never empty. */
function plainText(text: string): string {
  const t = text.trim() === '' ? 'backout could not show this message (Slack refused its layout).' : text;
  return t.length <= 3900 ? t : `${t.slice(0, 3899)}…`;
}
