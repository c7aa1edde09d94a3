import type { RedisClient } from '../redis/client.js';
import { z } from 'zod';
import { trend, type Trend } from './trend.js';
import { deprecationEntrySchema, type DeprecationEntry } from './entry.js';
import { DEFAULT_PREFIX, registryKeys, utcDay } from './keys.js';

export interface ClientUsage {
  client: string;
  count: number;
  /** ISO time of the last request seen from this client in the period. */
  lastSeen?: string;
  /** The first UTC day (`YYYY-MM-DD`) in the period with a request from this client. */
  firstSeen?: string;
  /** Requests per UTC day, oldest first, aligned with `EntryUsage.days`. */
  daily: number[];
  /** This client's share of the endpoint's requests in the period (0–1). */
  share: number;
  trend: Trend;
}

export interface EntryUsage {
  id: string;
  total: number;
  /** The period's UTC days, oldest first. */
  days: string[];
  daily: number[];
  trend: Trend;
  /** Sorted by count, highest first; `other` collects clients beyond the per-day cap. */
  clients: ClientUsage[];
}

const DAY_MS = 86_400_000;

/** The deprecation registry backout keeps in Redis: one hash per service, a version counter, a change channel. */
export class DeprecationRegistry {
  private readonly keys: ReturnType<typeof registryKeys>;

  constructor(
    private readonly redis: RedisClient,
    prefix: string = DEFAULT_PREFIX,
  ) {
    this.keys = registryKeys(prefix);
  }

  async list(service: string): Promise<DeprecationEntry[]> {
    return parseStoredEntries(service, await this.redis.hgetall(this.keys.registry(service))).entries;
  }

  async get(service: string, id: string): Promise<DeprecationEntry | undefined> {
    const raw = await this.redis.hget(this.keys.registry(service), id);
    return raw === null ? undefined : parseStoredEntries(service, { [id]: raw }).entries[0];
  }

  /** Validates, writes, bumps the service's version and notifies running services; returns the new version. */
  async put(entry: DeprecationEntry): Promise<number> {
    const valid = deprecationEntrySchema.parse(entry);
    const { version } = await this.change(valid.service, (multi) =>
      multi.hset(this.keys.registry(valid.service), valid.id, JSON.stringify(valid)),
    );
    return version;
  }

  /** Removes an entry (a no-op when absent); returns whether it existed. */
  async remove(service: string, id: string): Promise<boolean> {
    const { written } = await this.change(service, (multi) => multi.hdel(this.keys.registry(service), id));
    return written > 0;
  }

  async version(service: string): Promise<number> {
    return Number((await this.redis.get(this.keys.version(service))) ?? 0);
  }

  /** Per entry of the service's registry (or `ids`): clients over the last `days` UTC days, today included. */
  async usage(
    service: string,
    options: { days?: number; now?: Date; ids?: string[] } = {},
  ): Promise<EntryUsage[]> {
    // Usage keys expire after 35 days by default; a year bounds the pipeline whatever the caller asks.
    const dayCount = Math.min(366, Math.max(1, Math.floor(options.days ?? 7)));
    const now = (options.now ?? new Date()).getTime();
    const ids = options.ids ?? (await this.list(service)).map((entry) => entry.id);
    const dayKeys = Array.from({ length: dayCount }, (_, index) => utcDay(now - index * DAY_MS));
    const pipeline = this.redis.pipeline();
    for (const id of ids) {
      for (const day of dayKeys) {
        pipeline.hgetall(this.keys.usageCount(service, day, id));
        pipeline.hgetall(this.keys.usageSeen(service, day, id));
      }
    }
    const replies = (await pipeline.exec()) ?? [];
    let cursor = 0;
    const next = (): Record<string, string> => {
      const [err, value] = replies[cursor++] ?? [null, {}];
      if (err) throw err;
      return (value ?? {}) as Record<string, string>;
    };
    const days = dayKeys.toReversed();
    const result = ids.map((id): EntryUsage => {
      const clients = new Map<string, { daily: number[]; lastSeen: number }>();
      // The pipeline walked the days newest first; `daily` is oldest first.
      for (let index = 0; index < dayCount; index++) {
        const counts = next();
        const seen = next();
        for (const [client, count] of Object.entries(counts)) {
          const current = clients.get(client) ?? { daily: new Array<number>(dayCount).fill(0), lastSeen: 0 };
          current.daily[dayCount - 1 - index] = Number(count);
          current.lastSeen = Math.max(current.lastSeen, Number(seen[client] ?? 0));
          clients.set(client, current);
        }
      }
      const daily = new Array<number>(dayCount).fill(0);
      for (const client of clients.values()) client.daily.forEach((count, day) => (daily[day]! += count));
      const total = daily.reduce((sum, count) => sum + count, 0);
      const list = [...clients]
        .map(([client, { daily: clientDaily, lastSeen }]): ClientUsage => {
          const count = clientDaily.reduce((sum, n) => sum + n, 0);
          const first = clientDaily.findIndex((n) => n > 0);
          return {
            client,
            count,
            ...(lastSeen > 0 && { lastSeen: new Date(lastSeen).toISOString() }),
            ...(first >= 0 && { firstSeen: days[first] }),
            daily: clientDaily,
            share: total > 0 ? count / total : 0,
            trend: trend(clientDaily),
          };
        })
        .sort((a, b) => b.count - a.count || a.client.localeCompare(b.client));
      return { id, total, days, daily, trend: trend(daily), clients: list };
    });
    return result.sort((a, b) => b.total - a.total || a.id.localeCompare(b.id));
  }

  /** One MULTI: the write, the version bump and the notification, so readers never see one without the other. */
  private async change(
    service: string,
    write: (multi: ReturnType<RedisClient['multi']>) => unknown,
  ): Promise<{ version: number; written: number }> {
    const multi = this.redis.multi();
    write(multi);
    multi.incr(this.keys.version(service)).publish(this.keys.changed, service);
    const replies = await multi.exec();
    if (!replies) throw new Error('registry change was aborted');
    for (const [err] of replies) if (err) throw err;
    const [writeReply, versionReply] = replies;
    if (!writeReply || !versionReply) throw new Error('registry change returned too few replies');
    return { written: Number(writeReply[1]), version: Number(versionReply[1]) };
  }
}

/** Parses a registry hash; entries that fail validation are reported, not served. */
export function parseStoredEntries(
  service: string,
  hash: Record<string, string>,
): { entries: DeprecationEntry[]; problems: string[] } {
  const entries: DeprecationEntry[] = [];
  const problems: string[] = [];
  for (const [id, raw] of Object.entries(hash)) {
    try {
      const parsed = deprecationEntrySchema.safeParse(JSON.parse(raw));
      if (!parsed.success) problems.push(`entry "${id}" is invalid: ${z.prettifyError(parsed.error)}`);
      else if (parsed.data.id !== id || parsed.data.service !== service)
        problems.push(`entry "${id}" is misfiled`);
      else entries.push(parsed.data);
    } catch (err) {
      problems.push(`entry "${id}" is not JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  entries.sort((a, b) => a.id.localeCompare(b.id));
  return { entries, problems };
}
