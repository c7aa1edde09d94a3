import type { RedisClient } from '../redis/client.js';
import { runScript } from '../redis/script.js';
import { scanKeys } from '../redis/scan.js';

const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if (not holder) or holder == ARGV[1] or holder == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {'ok', ARGV[1]}
end
return {'held', holder}
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
const EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/**
 * One mutating request per target (service + environment) at a time. The lock is taken
 * when a request is filed and held through approval and the job, so a second request is
 * refused up front with who holds the target. It expires on its own as a last resort;
 * the holder extends it while its job runs.
 */
export class TargetLocks {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly ttlMs = 6 * 3_600_000,
  ) {}

  private key(target: string): string {
    return `${this.prefix}:target:${target}`;
  }

  /**
   * Takes the lock for `holder`. `replacing` lets a caller take over from a holder it has
   * established is finished (a crashed process's request that has since expired, say).
   */
  async acquire(
    target: string,
    holder: string,
    replacing?: string,
  ): Promise<{ ok: true } | { ok: false; holder: string }> {
    const [status, who] = (await runScript(
      this.redis,
      ACQUIRE,
      1,
      this.key(target),
      holder,
      this.ttlMs,
      replacing ?? '',
    )) as [string, string];
    return status === 'ok' ? { ok: true } : { ok: false, holder: who };
  }

  async holder(target: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(target))) ?? undefined;
  }

  async extend(target: string, holder: string): Promise<boolean> {
    return (await runScript(this.redis, EXTEND, 1, this.key(target), holder, this.ttlMs)) === 1;
  }

  /**
   * Every lock held now, with its holder (for the sweep that frees orphaned ones). Walks every
   * master: on Cluster a bare SCAN goes to whichever node the client picks, which is not the one
   * holding backout's slot as often as not, so the sweep would miss the locks.
   */
  async held(): Promise<{ target: string; holder: string }[]> {
    const out: { target: string; holder: string }[] = [];
    const start = `${this.prefix}:target:`;
    for (const key of await scanKeys(this.redis, `${start}*`, 500)) {
      const holder = await this.redis.get(key);
      if (holder) out.push({ target: key.slice(start.length), holder });
    }
    return out;
  }

  async release(target: string, holder: string): Promise<boolean> {
    return (await runScript(this.redis, RELEASE, 1, this.key(target), holder)) === 1;
  }
}
