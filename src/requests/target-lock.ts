import type { RedisClient } from '../redis/client.js';
import { runScript } from '../redis/script.js';
import { indexCatchUp } from '../redis/scan.js';

/** KEYS: lock, index. ARGV: holder, ttl ms, holder it may replace, target. Refused: the holder and the lock's PTTL. */
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if (not holder) or holder == ARGV[1] or holder == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[4])
  return {'ok', ARGV[1], 0}
end
return {'held', holder, redis.call('PTTL', KEYS[1])}
`;
/** KEYS: lock, index. ARGV: holder, target. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SREM', KEYS[2], ARGV[2])
  return redis.call('DEL', KEYS[1])
end
return 0
`;
/**
 * Every indexed target with its holder and its lock's PTTL, as a flat list; a target whose lock
 * has expired leaves the index. KEYS: index. ARGV: the lock keys' prefix (same hash slot as the index).
 */
const HELD = `
local out = {}
for _, target in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local holder = redis.call('GET', ARGV[1] .. target)
  if holder then
    out[#out + 1] = target
    out[#out + 1] = holder
    out[#out + 1] = redis.call('PTTL', ARGV[1] .. target)
  else
    redis.call('SREM', KEYS[1], target)
  end
end
return out
`;
const EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

export interface HeldLock {
  target: string;
  holder: string;
  /** Since the lock was taken or last extended (a lock with no expiry: Infinity). */
  heldForMs: number;
}

/**
 * A lock this fresh whose holder is not stored (yet) is being filed: the request is stored just
 * after its target is taken, so neither the sweep nor a second filing may take it for abandoned.
 */
export const FILING_GRACE_MS = 60_000;

/**
 * One mutating request per target (service + environment) at a time. The lock is taken
 * when a request is filed and held through approval and the job, so a second request is
 * refused up front with who holds the target. It expires on its own as a last resort;
 * the holder extends it while its job runs.
 */
export class TargetLocks {
  /** Indexes locks taken without the index (by an earlier version): first call, then hourly. */
  private readonly catchUp: () => Promise<void>;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly ttlMs = 6 * 3_600_000,
  ) {
    this.catchUp = indexCatchUp(redis, this.key(''), this.indexKey, 500);
  }

  private key(target: string): string {
    return `${this.prefix}:target:${target}`;
  }

  /** The targets whose lock is (or was until it expired) held: kept by the lock scripts. */
  private get indexKey(): string {
    return `${this.prefix}:targets`;
  }

  /**
   * Takes the lock for `holder`. `replacing` lets a caller take over from a holder it has
   * established is finished (a crashed process's request that has since expired, say).
   */
  async acquire(
    target: string,
    holder: string,
    replacing?: string,
  ): Promise<{ ok: true } | { ok: false; holder: string; heldForMs: number }> {
    const [status, who, pttl] = (await runScript(
      this.redis,
      ACQUIRE,
      2,
      this.key(target),
      this.indexKey,
      holder,
      this.ttlMs,
      replacing ?? '',
      target,
    )) as [string, string, number];
    return status === 'ok' ? { ok: true } : { ok: false, holder: who, heldForMs: this.heldFor(pttl) };
  }

  async holder(target: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(target))) ?? undefined;
  }

  async extend(target: string, holder: string): Promise<boolean> {
    return (await runScript(this.redis, EXTEND, 1, this.key(target), holder, this.ttlMs)) === 1;
  }

  /**
   * Every lock held now, with its holder (for the sweep that frees orphaned ones), from the index
   * the lock scripts keep rather than a walk of the keyspace (see indexCatchUp).
   */
  async held(): Promise<HeldLock[]> {
    await this.catchUp();
    const flat = (await runScript(this.redis, HELD, 1, this.indexKey, this.key(''))) as (string | number)[];
    const out: HeldLock[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      out.push({
        target: String(flat[i]),
        holder: String(flat[i + 1]),
        heldForMs: this.heldFor(Number(flat[i + 2])),
      });
    }
    return out;
  }

  /** How long since the lock was taken or last extended, from its remaining time to live. */
  private heldFor(pttl: number): number {
    return pttl >= 0 ? Math.max(0, this.ttlMs - pttl) : Number.POSITIVE_INFINITY;
  }

  async release(target: string, holder: string): Promise<boolean> {
    return (await runScript(this.redis, RELEASE, 2, this.key(target), this.indexKey, holder, target)) === 1;
  }
}
