import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/client.js';
import { runScript } from '../redis/script.js';

/**
 * Takes the lock for `owner`: free, or held by an earlier run of the same drain job (a crash
 * left it), in which case it gets a new token so the earlier run's late writes are refused.
 */
const ACQUIRE = `
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1] + 1) ~= ARGV[1] .. '|' then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;
const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
/**
 * A hash write that happens only while the token still holds the lock.
 * KEYS: lock, hash. ARGV: token, number of fields to delete, those fields, then field/value pairs.
 */
const FENCED_HASH = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[2])
for i = 3, 2 + n do redis.call('HDEL', KEYS[2], ARGV[i]) end
for i = 3 + n, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1
`;

/** Thrown when a write is refused because another drainer took the channel over. */
export class LockLost extends Error {
  constructor(channelLock: string) {
    super(`drain lock ${channelLock} was lost; leaving the channel to its new holder`);
  }
}

/**
 * The one-drainer-per-channel lock. It is renewed on a timer for as long as it is held (so a
 * slow Slack call cannot outlive it), and every record the drainer writes is fenced by its
 * token: once another drainer has the lock, nothing this one learns is written.
 */
export class DrainLock {
  private timer: NodeJS.Timeout | undefined;
  private lost = false;
  readonly token: string;

  private constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    owner: string,
    private readonly ttlMs: number,
  ) {
    this.token = `${owner}|${randomUUID()}`;
  }

  static async acquire(
    redis: RedisClient,
    key: string,
    owner: string,
    ttlMs: number,
  ): Promise<DrainLock | undefined> {
    const lock = new DrainLock(redis, key, owner, ttlMs);
    const got = await runScript(redis, ACQUIRE, 1, key, owner, lock.token, ttlMs);
    if (got !== 1) return undefined;
    lock.timer = setInterval(() => void lock.renew(), Math.max(50, Math.floor(ttlMs / 3)));
    lock.timer.unref();
    return lock;
  }

  /** False once a renewal found the lock gone or taken. */
  get held(): boolean {
    return !this.lost;
  }

  private async renew(): Promise<void> {
    try {
      if ((await runScript(this.redis, RENEW, 1, this.key, this.token, this.ttlMs)) !== 1) this.lost = true;
    } catch {
      // Redis away: the lock may lapse; fenced writes keep that safe.
    }
  }

  /** Writes fields to a hash (and deletes others) only while the lock is ours; throws LockLost otherwise. */
  async writeHash(hashKey: string, set: Record<string, string>, del: string[] = []): Promise<void> {
    const pairs = Object.entries(set).flat();
    const done = await runScript(
      this.redis,
      FENCED_HASH,
      2,
      this.key,
      hashKey,
      this.token,
      del.length,
      ...del,
      ...pairs,
    );
    if (done !== 1) {
      this.lost = true;
      throw new LockLost(this.key);
    }
  }

  /** Runs a script whose first key is the lock and first argument the token; 0 means refused. */
  async fenced(script: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    const res = await runScript(this.redis, script, keys.length + 1, this.key, ...keys, this.token, ...args);
    if (res === 0) {
      this.lost = true;
      throw new LockLost(this.key);
    }
    return res;
  }

  /**
   * Stops renewing and leaves the lock to lapse after `ms` unless the same owner (the drain job's
   * next run) takes it back first, which ACQUIRE allows.
   */
  async keepFor(ms: number): Promise<void> {
    clearInterval(this.timer);
    await runScript(this.redis, RENEW, 1, this.key, this.token, Math.ceil(ms));
  }

  /** Compare-and-delete: only our own token is removed. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    await runScript(this.redis, RELEASE, 1, this.key, this.token);
  }
}
