import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis/client.js';
import { DEFAULT_PREFIX, registryKeys, utcDay } from './keys.js';
import { withTimeout } from './timeout.js';

export const OVERFLOW_CLIENT = 'other';

export interface UsageRecorderOptions {
  redis: RedisClient;
  service: string;
  prefix?: string;
  /** Distinct clients kept per entry per day; further ones are counted under `other`. */
  maxClientsPerDay?: number;
  ttlDays?: number;
  flushIntervalMs?: number;
  /** A batch that has not been written by then counts as dropped, so a hung Redis cannot stall flushing. */
  writeTimeoutMs?: number;
  onError?: (err: unknown) => void;
}

export interface UsageStats {
  recorded: number;
  flushed: number;
  /** Requests whose counts were lost: a failed flush, or the buffer was full. */
  dropped: number;
  errors: number;
}

interface Group {
  day: string;
  entryId: string;
  clients: Map<string, { count: number; lastSeen: number }>;
}

// Caps distinct clients per hash atomically; `other` does not count towards the cap.
// KEYS: counts hash, last-seen hash. ARGV: cap, ttl seconds, then (client, count, seen ms) triples.
const RECORD_SCRIPT = `
local cap = tonumber(ARGV[1])
local distinct = redis.call('HLEN', KEYS[1])
if redis.call('HEXISTS', KEYS[1], '${OVERFLOW_CLIENT}') == 1 then distinct = distinct - 1 end
for i = 3, #ARGV, 3 do
  local client = ARGV[i]
  if client ~= '${OVERFLOW_CLIENT}' and redis.call('HEXISTS', KEYS[1], client) == 0 then
    if distinct >= cap then client = '${OVERFLOW_CLIENT}' else distinct = distinct + 1 end
  end
  redis.call('HINCRBY', KEYS[1], client, ARGV[i + 1])
  local seen = tonumber(redis.call('HGET', KEYS[2], client) or '0')
  if tonumber(ARGV[i + 2]) > seen then redis.call('HSET', KEYS[2], client, ARGV[i + 2]) end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
`;
const RECORD_SHA = createHash('sha1').update(RECORD_SCRIPT).digest('hex');
const MAX_GROUPS = 10_000;

/**
 * Counts matching requests per entry, client and UTC day in memory and writes them to Redis in one
 * pipelined batch per interval. `record` never touches Redis, and a failed batch is dropped and
 * counted rather than retried (a retry could double-count a batch that half-applied).
 */
export class UsageRecorder {
  private buffer = new Map<string, Group>();
  private pending = 0;
  private inflight: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly keys: ReturnType<typeof registryKeys>;
  private readonly cap: number;
  private readonly counters: UsageStats = { recorded: 0, flushed: 0, dropped: 0, errors: 0 };

  constructor(private readonly options: UsageRecorderOptions) {
    this.keys = registryKeys(options.prefix ?? DEFAULT_PREFIX);
    this.cap = options.maxClientsPerDay ?? 1000;
    this.timer = setInterval(() => {
      if (!this.inflight) void this.flush();
    }, options.flushIntervalMs ?? 1000).unref();
  }

  record(entryId: string, client: string, at: number): void {
    this.counters.recorded++;
    const day = utcDay(at);
    const groupKey = `${day} ${entryId}`;
    let group = this.buffer.get(groupKey);
    if (!group) {
      if (this.buffer.size >= MAX_GROUPS) {
        this.counters.dropped++;
        return;
      }
      group = { day, entryId, clients: new Map() };
      this.buffer.set(groupKey, group);
    }
    // The buffer obeys the same cap as Redis, so memory stays bounded while Redis is away.
    const name = group.clients.has(client) || group.clients.size < this.cap ? client : OVERFLOW_CLIENT;
    const counts = group.clients.get(name) ?? { count: 0, lastSeen: 0 };
    counts.count++;
    counts.lastSeen = Math.max(counts.lastSeen, at);
    group.clients.set(name, counts);
    this.pending++;
  }

  stats(): UsageStats {
    return { ...this.counters };
  }

  /** Writes what is buffered; never rejects. Waits for a flush already under way first. */
  async flush(): Promise<void> {
    while (this.inflight) await this.inflight;
    if (this.buffer.size === 0) return;
    const batch = this.buffer;
    const requests = this.pending;
    this.buffer = new Map();
    this.pending = 0;
    this.inflight = withTimeout(this.write(batch), this.options.writeTimeoutMs ?? 5000, 'usage write').then(
      () => {
        this.counters.flushed += requests;
      },
      (err: unknown) => {
        this.counters.errors++;
        this.counters.dropped += requests;
        this.options.onError?.(err);
      },
    );
    try {
      await this.inflight;
    } finally {
      this.inflight = undefined;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async write(batch: Map<string, Group>): Promise<void> {
    const { redis, service } = this.options;
    const ttl = String(Math.round((this.options.ttlDays ?? 35) * 86_400));
    const calls = [...batch.values()].map((group) => {
      const args = [String(this.cap), ttl];
      for (const [client, { count, lastSeen }] of group.clients)
        args.push(client, String(count), String(lastSeen));
      return [
        this.keys.usageCount(service, group.day, group.entryId),
        this.keys.usageSeen(service, group.day, group.entryId),
        ...args,
      ];
    });
    let todo = calls;
    for (let attempt = 0; todo.length > 0; attempt++) {
      const pipeline = redis.pipeline();
      for (const call of todo) pipeline.evalsha(RECORD_SHA, 2, ...call);
      const replies = (await pipeline.exec()) ?? [];
      const missing = todo.filter((_, index) => isNoScript(replies[index]?.[0]));
      const failed = replies.map(([err]) => err).find((err) => err && !isNoScript(err));
      if (failed) throw failed;
      if (missing.length > 0 && attempt > 0) throw new Error('usage script could not be loaded');
      if (missing.length > 0) await redis.script('LOAD', RECORD_SCRIPT);
      todo = missing;
    }
  }
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}
