import type { Logger } from '../observability/logger.js';
import { REDIS_SIDE_ERROR, type RedisClient } from './client.js';
import type { RepeatLog } from './repeat-log.js';
import { runScript } from './script.js';

// Writes one key and reads another under the prefix, in one script: MOVED, CROSSSLOT, READONLY,
// OOM and the like show up here exactly as they would for a request or a job.
const PROBE = `redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return redis.call('EXISTS', KEYS[2])`;

export interface ProbeState {
  ok: boolean;
  /** Why not, when not. */
  error?: string;
  at: number;
}

/**
 * Readiness needs more than a connected socket: a node that answers every command with
 * MOVED or READONLY is connected and useless. This probe runs a two-key write under the
 * prefix every `everyMs`; readiness holds only while the last one succeeded recently.
 */
export class RedisProbe {
  private state: ProbeState = { ok: false, error: 'not probed yet', at: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly deps: {
      redis: RedisClient;
      prefix: string;
      log: Logger;
      repeats: RepeatLog;
      /** Which process (for the key), so replicas do not share one. */
      owner: string;
      everyMs?: number;
    },
  ) {}

  start(): void {
    void this.probe();
    this.timer = setInterval(() => void this.probe(), this.deps.everyMs ?? 1_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Ready = the last probe succeeded and is fresh (a hung probe counts as failing). */
  healthy(now = Date.now()): boolean {
    return this.state.ok && now - this.state.at < 3 * (this.deps.everyMs ?? 1_000) + 2_000;
  }

  last(): ProbeState {
    return this.state;
  }

  async probe(): Promise<ProbeState> {
    if (this.running) return this.state;
    this.running = true;
    const { redis, prefix, owner } = this.deps;
    try {
      await runScript(
        redis,
        PROBE,
        2,
        `${prefix}:health:${owner}`,
        `${prefix}:health:probe`,
        Date.now(),
        30_000,
      );
      if (!this.state.ok && this.state.at > 0) this.deps.log.info('redis answers the readiness probe again');
      this.state = { ok: true, at: Date.now() };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.state = { ok: false, error: message, at: Date.now() };
      this.deps.repeats.warn(
        { err: message, ...(hint(message) ? { hint: hint(message) } : {}) },
        'redis failed the readiness probe: not ready',
      );
    } finally {
      this.running = false;
    }
    return this.state;
  }
}

function hint(message: string): string | undefined {
  const m = REDIS_SIDE_ERROR.exec(message);
  if (!m) return undefined;
  switch (m[1]) {
    case 'MOVED':
    case 'ASK':
    case 'CROSSSLOT':
      return 'this Redis is a Cluster node: set REDIS_CLUSTER_NODES (seed nodes) instead of REDIS_URL';
    case 'READONLY':
      return 'this Redis is a replica: point REDIS_URL at the master, or use REDIS_SENTINELS + REDIS_SENTINEL_MASTER';
    case 'OOM':
      return 'Redis is out of memory (maxmemory): raise it; backout needs maxmemory-policy noeviction';
    default:
      return undefined;
  }
}
