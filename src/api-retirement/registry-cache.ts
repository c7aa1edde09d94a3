import { duplicateClient, type RedisClient } from '../redis/client.js';
import type { DeprecationEntry } from './entry.js';
import { DEFAULT_PREFIX, registryKeys } from './keys.js';
import { parseStoredEntries } from './registry.js';
import { withTimeout } from './timeout.js';

export interface RegistryCacheOptions {
  /** Connection for reads; never closed by the cache. */
  redis: RedisClient;
  service: string;
  prefix?: string;
  onError?: (err: unknown) => void;
  /** Backoff between failed loads (exponential with jitter). */
  retry?: { minMs?: number; maxMs?: number };
  /** A load that has not answered by then counts as failed. */
  loadTimeoutMs?: number;
  /** Safety-net version check, for notifications lost while the subscriber reconnected. */
  pollMs?: number;
}

/**
 * A service's deprecation entries, held in memory for the request path. It loads at start, reloads
 * when the change channel names the service (on its own subscriber connection) and on a slow poll,
 * and when Redis is away keeps serving the last registry it loaded while retrying with backoff.
 */
export class RegistryCache {
  private current: readonly DeprecationEntry[] = Object.freeze([]);
  private loadedVersion = -1;
  private readonly keys: ReturnType<typeof registryKeys>;
  private readonly subscriber: RedisClient;
  private loading = false;
  private dirty = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly pollTimer: NodeJS.Timeout;
  private closed = false;
  private markLoaded!: () => void;
  private readonly firstLoad = new Promise<void>((resolve) => (this.markLoaded = resolve));

  constructor(private readonly options: RegistryCacheOptions) {
    this.keys = registryKeys(options.prefix ?? DEFAULT_PREFIX);
    this.subscriber = duplicateClient(options.redis);
    this.subscriber.on('error', (err: unknown) => this.report(err));
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.keys.changed && message === options.service) this.refresh();
    });
    // After a reconnect the notifications sent meanwhile are lost, so catch up.
    this.subscriber.on('ready', () => this.refresh());
    this.subscriber.subscribe(this.keys.changed).then(
      () => this.refresh(),
      (err: unknown) => this.report(err),
    );
    this.pollTimer = setInterval(() => this.refresh(), options.pollMs ?? 30_000).unref();
    this.refresh();
  }

  /** The last known entries; synchronous, for the request path. */
  entries(): readonly DeprecationEntry[] {
    return this.current;
  }

  /** The registry version of `entries()`, -1 before the first load. */
  get version(): number {
    return this.loadedVersion;
  }

  /** Resolves true once a first load succeeded, false if `timeoutMs` passes first. */
  async whenLoaded(timeoutMs = 5000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([this.firstLoad.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Asks for a reload; concurrent requests coalesce into one more load after the running one. */
  refresh(): void {
    if (this.closed) return;
    if (this.loading) {
      this.dirty = true;
      return;
    }
    this.loading = true;
    this.dirty = false;
    this.load().then(
      () => this.settle(true),
      (err: unknown) => {
        this.report(err);
        this.settle(false);
      },
    );
  }

  close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    this.subscriber.disconnect();
    return Promise.resolve();
  }

  private settle(ok: boolean): void {
    this.loading = false;
    if (this.closed) return;
    if (ok) {
      this.failures = 0;
      if (this.dirty) this.refresh();
      return;
    }
    const { minMs = 100, maxMs = 10_000 } = this.options.retry ?? {};
    const backoff = Math.min(maxMs, minMs * 2 ** Math.min(this.failures++, 20));
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.refresh(), backoff * (0.5 + Math.random() / 2)).unref();
  }

  private async load(): Promise<void> {
    const { redis, service } = this.options;
    await withTimeout(
      (async () => {
        const version = Number((await redis.get(this.keys.version(service))) ?? 0);
        if (version === this.loadedVersion) return;
        const replies = await redis
          .multi()
          .get(this.keys.version(service))
          .hgetall(this.keys.registry(service))
          .exec();
        if (!replies) throw new Error('registry load was aborted');
        for (const [err] of replies) if (err) throw err;
        const [versionReply, registryReply] = replies;
        if (!versionReply || !registryReply) throw new Error('registry load returned too few replies');
        const loaded = Number(versionReply[1] ?? 0);
        // Versions only grow, so an older answer arriving late never replaces a newer registry.
        if (loaded < this.loadedVersion) return;
        const { entries, problems } = parseStoredEntries(service, registryReply[1] as Record<string, string>);
        for (const problem of problems)
          this.report(new Error(`deprecation registry of ${service}: ${problem}`));
        this.current = Object.freeze(entries);
        this.loadedVersion = loaded;
      })(),
      this.options.loadTimeoutMs ?? 3000,
      'deprecation registry',
    );
    this.markLoaded();
  }

  private report(err: unknown): void {
    // Closing cuts the subscriber mid-command; what fails after that is nobody's concern.
    if (!this.closed) this.options.onError?.(err);
  }
}
