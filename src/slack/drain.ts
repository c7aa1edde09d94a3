import { NORMAL_BAND, notifyKeys, type OutboxEntry } from './notifier.js';
import { DrainLock, LockLost } from './notify-lock.js';
import { OutboxBell } from './outbox-bell.js';
import { createDelivery, DONE, type DeliveryDeps, type Outcome } from './deliver.js';

const LOCK_MS = 15_000;
/**
 * How often a drain waiting for Slack's pace looks whether a card has been queued meanwhile (by
 * another replica: one queued in this process rings the bell and is taken at once).
 */
const LOOK_AGAIN_MS = 250;
/**
 * A post that must wait at least this long for Slack's pace, while every drain slot of this process
 * is taken, gives its slot up: the drain job comes back when the post may go. Waiting in the slot,
 * 64 channels each sending a post a second would hold up every other channel, a new card included.
 */
const YIELD_AFTER_MS = 100;

export interface DrainDeps extends DeliveryDeps {
  /** Rung by this process's notifier when it queues a card. */
  bell?: OutboxBell;
  /** True while every drain slot of this process is taken (see YIELD_AFTER_MS). */
  crowded?: () => boolean;
  /** Overrides for tests that compress time. */
  lockMs?: number;
}

/**
 * Drops the delivered head of a lane (if it still is the head) and re-scores the lane by its
 * new head, behind every lane already waiting; an empty lane leaves the set, and a channel with
 * no lane left leaves the backlog index.
 * KEYS: lock, lane, lanes, seq, backlog. ARGV: token, raw head ('' to only tidy), lane, normal band, channel.
 */
const ADVANCE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] ~= '' and redis.call('LINDEX', KEYS[2], 0) == ARGV[2] then redis.call('LPOP', KEYS[2]) end
local head = redis.call('LINDEX', KEYS[2], 0)
if not head then
  redis.call('ZREM', KEYS[3], ARGV[3])
  if redis.call('EXISTS', KEYS[3]) == 0 then redis.call('SREM', KEYS[5], ARGV[5]) end
  return 1
end
local band = tonumber(ARGV[4])
if cjson.decode(head).urgent then band = 0 end
redis.call('ZADD', KEYS[3], band + redis.call('INCR', KEYS[4]), ARGV[3])
return 1
`;
/** Drops one entry from a lane (an edit that went ahead of its lane's head). KEYS: lock, lane. ARGV: token, raw. */
const DROP = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('LREM', KEYS[2], 1, ARGV[2])
return 1
`;
/** How far into a waiting lane edits are looked for. */
const OVERTAKE_SCAN = 200;

/**
 * Drains a channel's outbox: one drainer per channel at a time (a lock renewed while it
 * works, every record fenced by its token), lanes taken by score, each lane in order,
 * within Slack's pace. Returns after the outbox is empty, or how long to wait before
 * draining again (a 429's Retry-After, or a thread waiting for an earlier attempt to settle).
 */
export function createDrainer(deps: DrainDeps) {
  const keys = notifyKeys(deps.prefix);
  const { redis, log } = deps;
  const lockMs = deps.lockMs ?? LOCK_MS;
  const { deliver, slotIn } = createDelivery(deps);

  /** The best-scored lane not set aside in this round. */
  async function nextLane(channel: string, aside: Set<string>): Promise<string | undefined> {
    const lanes = await redis.zrange(keys.lanes(channel), '0', String(aside.size));
    return lanes.find((l) => !aside.has(l));
  }

  /**
   * The lane's head (raw, as queued) and how long it must wait (0: it may go now): a post waits
   * for a slot of Slack's per-channel post pace; an edit does not (chat.update keeps its own pace
   * in deliver.ts, and an edit superseded by a newer one costs no call at all), so a thread's
   * edits never hold its posts back a second each.
   */
  async function headOf(channel: string, lane: string): Promise<{ raw: string | null; wait: number }> {
    const raw = await redis.lindex(keys.lane(channel, lane), 0);
    const head = raw === null ? undefined : (JSON.parse(raw) as OutboxEntry);
    if (!head || head.op === 'update') return { raw, wait: 0 };
    return { raw, wait: await slotIn(channel, 'chat.postMessage', head.urgent === true) };
  }

  const bell = deps.bell ?? new OutboxBell();

  /**
   * Waits up to `ms` for the lane's slot, looking (one read) whether another lane now comes
   * first — a card queued meanwhile — when the bell rings or every 250 ms, and returns the lane
   * to choose next.
   */
  async function hold(channel: string, lane: string, aside: Set<string>, ms: number, lock: DrainLock) {
    const until = Date.now() + ms;
    for (;;) {
      await bell.wait(channel, Math.min(LOOK_AGAIN_MS, Math.max(0, until - Date.now())));
      const first = await nextLane(channel, aside);
      if (first !== lane || Date.now() >= until || !lock.held) return first;
    }
  }

  /**
   * While a post in doubt holds its thread (it may still land), edits of messages already in
   * Slack go ahead of it: an edit moves nothing in the thread, and the card and step replies
   * stay current. Posts keep their order and wait.
   */
  async function sendReadyEdits(lock: DrainLock, channel: string, lane: string): Promise<Outcome> {
    const laneKey = keys.lane(channel, lane);
    for (const raw of await redis.lrange(laneKey, 1, OVERTAKE_SCAN)) {
      const entry = JSON.parse(raw) as OutboxEntry;
      if (entry.op !== 'update' || !(await redis.hexists(keys.msg(entry.key), 'ts'))) continue;
      const outcome = await deliver(lock, channel, entry);
      if (outcome.kind === 'rate_limited') return outcome;
      await lock.fenced(DROP, [laneKey], [raw]);
    }
    return DONE;
  }

  async function pauseChannel(channel: string, retryAfterMs: number): Promise<number> {
    await redis.set(keys.blocked(channel), '1', 'PX', retryAfterMs);
    log.warn({ channel, retryAfterMs }, 'Slack rate limit: pausing this channel');
    return retryAfterMs;
  }

  return async function drainChannel(channel: string, owner: string): Promise<number | undefined> {
    for (let round = 0; round < 1000; round++) {
      // The drain that met the 429 comes back when Slack allows; nothing to do here.
      if ((await redis.pttl(keys.blocked(channel))) > 0) return undefined;
      const lock = await DrainLock.acquire(redis, keys.lock(channel), owner, lockMs);
      if (!lock) return undefined;
      let waitMs: number | undefined;
      // Set when the slot is given up for Slack's pace: how long until the post may go.
      let yieldMs: number | undefined;
      // Lanes whose head waits for an earlier attempt to settle; the others go on meanwhile.
      const aside = new Set<string>();
      try {
        while (lock.held) {
          // Choose what to send only once Slack's pace allows it: a card queued meanwhile goes next.
          // Only this drainer takes from a lane's head (others append), so the head read stays true.
          let lane = await nextLane(channel, aside);
          let raw: string | null = null;
          while (lane !== undefined) {
            const head = await headOf(channel, lane);
            raw = head.raw;
            if (head.wait === 0) break;
            if (head.wait >= YIELD_AFTER_MS && deps.crowded?.()) {
              deps.metrics.outboxDrainYields.inc();
              yieldMs = head.wait;
              break;
            }
            lane = await hold(channel, lane, aside, head.wait, lock);
          }
          if (lane === undefined || yieldMs !== undefined) break;
          const laneKey = keys.lane(channel, lane);
          const outcome = raw === null ? DONE : await deliver(lock, channel, JSON.parse(raw) as OutboxEntry);
          if (outcome.kind === 'rate_limited') return await pauseChannel(channel, outcome.retryAfterMs);
          if (outcome.kind === 'wait') {
            aside.add(lane);
            waitMs = Math.min(waitMs ?? Infinity, outcome.ms);
            const edits = await sendReadyEdits(lock, channel, lane);
            if (edits.kind === 'rate_limited') return await pauseChannel(channel, edits.retryAfterMs);
            continue;
          }
          await lock.fenced(
            ADVANCE,
            [laneKey, keys.lanes(channel), keys.seq(channel), keys.backlog()],
            [raw ?? '', lane, NORMAL_BAND, channel],
          );
        }
      } catch (err) {
        if (!(err instanceof LockLost)) throw err;
        log.warn({ channel }, err.message);
        continue;
      } finally {
        // Given up for the pace: the lock stays with this job (its next run takes it back), so
        // entries queued meanwhile add no drain of their own and nobody else drains the channel.
        if (yieldMs === undefined) await lock.release();
        else await lock.keepFor(yieldMs + lockMs);
      }
      if (yieldMs !== undefined) return yieldMs;
      // Whoever queued while we held the lock queued no drain of their own (notifier.ts): look
      // again, unless all that is left waits for an earlier attempt to settle.
      const queued = await redis.zcard(keys.lanes(channel));
      if (queued === 0) return undefined;
      if (waitMs !== undefined && queued <= aside.size) return waitMs;
    }
    return undefined;
  };
}
