import type { Queue } from 'bullmq';
import type { RedisClient } from '../src/redis/client.js';
import type { Logger } from '../src/observability/logger.js';
import type { JobData } from '../src/queue/job-definition.js';
import type { RequestStore } from '../src/requests/store.js';
import type { TargetLocks } from '../src/requests/target-lock.js';
import type { BackoutRequest } from '../src/requests/types.js';

/** What people ask of a running canary; the job reads these each time it wakes. */
export interface CanarySignals {
  /** Return all traffic to stable now (the first abort wins). */
  abort?: { by: string; reason?: string; at: number };
  /** Cut the dwell of stop `stop` short: analyse now and move on if healthy. */
  skip?: { by: string; stop: number; at: number };
  /** Skip every remaining stop and go to the 100 % gate (`promote --full`). */
  full?: { by: string; at: number };
  /** The move to 100 % is approved (recorded only while the job waits at the gate). */
  approved?: { by: string; at: number };
}

export type CanaryPhase = 'starting' | 'moving' | 'dwell' | 'gate' | 'promoting' | 'aborting' | 'finished';

/** Where a running canary is, published by its job for `/canary status`, the buttons and the card. */
export interface CanaryPosition {
  phase: CanaryPhase;
  /** Index of the current stop; equal to the number of stops at the gate and after. */
  stop: number;
  /** The stop weights before the 100 % gate. */
  stops: number[];
  weight: number;
  /** When the next step is due (end of the dwell), if one is scheduled. */
  nextAt?: number;
  failedChecks: number;
  maxFailedChecks: number;
  /** The last analysis round in words, with its numbers. */
  analysis?: string;
  at: number;
}

const SIGNALS = ['abort', 'skip', 'full', 'approved'] as const;
const KEEP_SECONDS = 30 * 86_400;

/** The store both sides of a canary share: signals from people, position from the job. */
export interface CanaryBoard {
  signals(requestId: string): Promise<CanarySignals>;
  /** Records a signal; `once` keeps the first one (abort, approval). Returns whether it was recorded. */
  signal<K extends keyof CanarySignals>(
    requestId: string,
    name: K,
    value: NonNullable<CanarySignals[K]>,
    opts?: { once?: boolean },
  ): Promise<boolean>;
  publish(requestId: string, position: CanaryPosition): Promise<void>;
  position(requestId: string): Promise<CanaryPosition | undefined>;
  /** Wakes the request's job when it waits as a delayed job, so a signal acts now rather than at the next round. */
  wake(requestId: string): Promise<void>;
  /** The canary request that holds this target, if any (pending, approved or running). */
  live(target: string): Promise<BackoutRequest | undefined>;
}

/**
 * Canary signals and positions in one Redis hash per request. Signals are plain fields,
 * so a click on any replica is seen by the job on any worker at its next wake-up; `wake`
 * promotes the delayed job so that wake-up is now.
 */
export class RedisCanaryBoard implements CanaryBoard {
  constructor(
    private readonly deps: {
      redis: RedisClient;
      prefix: string;
      jobs: Queue<JobData>;
      locks: TargetLocks;
      requests: RequestStore;
      log: Logger;
    },
  ) {}

  private key(requestId: string): string {
    return `${this.deps.prefix}:canary:${requestId}`;
  }

  async signals(requestId: string): Promise<CanarySignals> {
    const values = await this.deps.redis.hmget(this.key(requestId), ...SIGNALS);
    const out: CanarySignals = {};
    SIGNALS.forEach((name, i) => {
      const raw = values[i];
      if (raw) Object.assign(out, { [name]: JSON.parse(raw) as unknown });
    });
    return out;
  }

  async signal<K extends keyof CanarySignals>(
    requestId: string,
    name: K,
    value: NonNullable<CanarySignals[K]>,
    opts: { once?: boolean } = {},
  ): Promise<boolean> {
    const key = this.key(requestId);
    const body = JSON.stringify(value);
    const recorded = opts.once
      ? (await this.deps.redis.hsetnx(key, name, body)) === 1
      : (await this.deps.redis.hset(key, name, body), true);
    await this.deps.redis.expire(key, KEEP_SECONDS);
    return recorded;
  }

  async publish(requestId: string, position: CanaryPosition): Promise<void> {
    await this.deps.redis
      .multi()
      .hset(this.key(requestId), 'position', JSON.stringify(position))
      .expire(this.key(requestId), KEEP_SECONDS)
      .exec();
  }

  async position(requestId: string): Promise<CanaryPosition | undefined> {
    const raw = await this.deps.redis.hget(this.key(requestId), 'position');
    return raw ? (JSON.parse(raw) as CanaryPosition) : undefined;
  }

  async wake(requestId: string): Promise<void> {
    // A job that is active may be about to hand itself back as a delayed job: look again briefly.
    for (let attempt = 0; attempt < 12; attempt++) {
      const job = await this.deps.jobs.getJob(requestId);
      if (!job) return;
      const state = await job.getState();
      if (state === 'delayed') {
        await job.promote().catch((err: unknown) => {
          this.deps.log.debug(
            { requestId, err: (err as Error).message },
            'canary job moved before it was woken',
          );
        });
        return;
      }
      if (state !== 'active') return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async live(target: string): Promise<BackoutRequest | undefined> {
    const holder = await this.deps.locks.holder(target);
    if (!holder) return undefined;
    const request = await this.deps.requests.get(holder);
    if (!request || request.kind !== 'canary') return undefined;
    return ['pending', 'approved', 'running'].includes(request.state) ? request : undefined;
  }
}
