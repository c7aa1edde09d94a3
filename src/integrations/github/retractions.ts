import type { RedisClient } from '../../redis/client.js';
import type { Release } from './types.js';

/** A release exactly as it was before a retraction touched it: what `undo` puts back. */
export interface ReleaseSnapshot {
  release: Release;
  /** The release GitHub showed as latest at that moment (none: no release was latest). */
  latest: { id: number; tag: string } | null;
  takenAt: string;
}

export interface RetractionRecord {
  requestId: string;
  service: string;
  tag: string;
  snapshot: ReleaseSnapshot;
  /** Set once an undo restored the snapshot. */
  undoneBy?: string;
}

/** Where `undo` finds the snapshot of a release's latest retraction. */
export interface Retractions {
  get(service: string, tag: string): Promise<RetractionRecord | undefined>;
  /** Records (or, for the same request, refreshes) the retraction of `service@tag`. */
  put(record: RetractionRecord): Promise<void>;
}

/**
 * One Redis key per retracted release, `<prefix>:retraction:<service>:<tag>`, holding the
 * latest retraction's request id and snapshot. The same snapshot is in the audit log
 * (`release.snapshot`); this key is the index that makes `undo` a single read. The composition
 * root keeps it as long as the audit retention (`audit.retention`), so an undo months later still finds it.
 */
export class RedisRetractions implements Retractions {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly keepSeconds = 400 * 86_400,
  ) {}

  private key(service: string, tag: string): string {
    return `${this.prefix}:retraction:${service}:${tag}`;
  }

  async get(service: string, tag: string): Promise<RetractionRecord | undefined> {
    const raw = await this.redis.get(this.key(service, tag));
    return raw ? (JSON.parse(raw) as RetractionRecord) : undefined;
  }

  async put(record: RetractionRecord): Promise<void> {
    await this.redis.set(
      this.key(record.service, record.tag),
      JSON.stringify(record),
      'EX',
      this.keepSeconds,
    );
  }
}
