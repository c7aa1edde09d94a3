import { Worker, type Job, type Processor } from 'bullmq';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { backoffDelay, REDIS_SIDE_ERROR, type RedisClient } from '../redis/client.js';
import type { RepeatLog } from '../redis/repeat-log.js';

/**
 * Tuned so a job whose worker died resumes well within 30 s (BullMQ's defaults take up
 * to a minute): the lock lapses after 10 s and stalled jobs are looked for every 5 s.
 * A job may stall many times (each kill in a test, each node drained in production)
 * before BullMQ gives up on it.
 */
export const WORKER_TIMING = {
  lockDuration: 10_000,
  stalledInterval: 5_000,
  maxStalledCount: 20,
  drainDelay: 5,
} as const;

export interface WorkerSpec {
  queue: string;
  processor: Processor;
  concurrency: number;
}

interface Managed {
  spec: WorkerSpec;
  worker: Worker;
  connection: RedisClient;
  /** When the blocking connection was last seen not ready while Redis itself answered. */
  wedgedSince?: number;
  /** Error storm: consecutive pauses, and whether one is running. */
  storm: { pauses: number; pausedUntil?: number; recent: number[] };
}

/**
 * BullMQ's fetch loop retries at once on any error that is not a lost connection: a node
 * answering MOVED or READONLY turned it into ~100,000 log lines in 15 s. A worker that hits a
 * Redis-side error (or 20 errors within a second) pauses for a capped, jittered backoff.
 */
const STORM = { baseMs: 500, capMs: 15_000, burst: 20, quietMs: 30_000 };

/**
 * The process's BullMQ workers plus a watchdog: a worker whose blocking connection stays
 * down while Redis answers (BullMQ #3185, #4479, #4585) is closed and recreated, and
 * readiness reports it meanwhile.
 */
export class WorkerPool {
  private readonly managed: Managed[] = [];
  /** Runs in progress in this process, by queue and job id, whichever worker started them. */
  private readonly running = new Map<string, Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(
    private readonly opts: {
      /** A fresh blocking connection (`maxRetriesPerRequest: null`) for each worker. */
      connect: () => RedisClient;
      prefix: string;
      log: Logger;
      repeats: RepeatLog;
      metrics: Metrics;
      /** The process's command connection, to tell "Redis down" from "this worker wedged". */
      probe: RedisClient;
      wedgeAfterMs?: number;
      /** Overrides of WORKER_TIMING (tests compress them). */
      timing?: Partial<Record<keyof typeof WORKER_TIMING, number>>;
    },
  ) {}

  start(specs: WorkerSpec[]): void {
    for (const spec of specs) this.managed.push(this.create(spec));
    this.timer = setInterval(() => {
      this.watch().catch((err: unknown) => this.opts.log.warn({ err }, 'worker watchdog failed'));
    }, 2_000);
    this.timer.unref();
  }

  private create(spec: WorkerSpec): Managed {
    const connection = this.opts.connect();
    const worker = new Worker(spec.queue, this.once(spec), {
      connection,
      prefix: this.opts.prefix,
      concurrency: spec.concurrency,
      ...WORKER_TIMING,
      ...this.opts.timing,
    });
    const managed: Managed = { spec, worker, connection, storm: { pauses: 0, recent: [] } };
    worker.on('error', (err) => {
      this.opts.repeats.warn({ queue: spec.queue, err: err.message }, 'worker error');
      this.backOff(managed, worker, err);
    });
    worker.on('completed', () => (managed.storm.pauses = 0));
    worker.on('failed', (job: Job | undefined, err: Error) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        this.opts.log.warn({ queue: spec.queue, jobId: job.id, err: err.message }, 'job failed for good');
      }
    });
    return managed;
  }

  private backOff(m: Managed, worker: Worker, err: Error): void {
    const now = Date.now();
    const storm = m.storm;
    storm.recent = storm.recent.filter((t) => now - t < 1_000);
    storm.recent.push(now);
    if (this.closing || storm.pausedUntil !== undefined || m.worker !== worker) return;
    if (!REDIS_SIDE_ERROR.test(err.message) && storm.recent.length < STORM.burst) return;
    storm.pauses++;
    const delay = backoffDelay(storm.pauses, STORM.baseMs, STORM.capMs);
    storm.pausedUntil = now + delay;
    void worker.pause(true).catch(() => undefined);
    setTimeout(() => {
      delete storm.pausedUntil;
      storm.recent = [];
      if (this.closing || m.worker !== worker) return;
      void worker.resume().catch(() => undefined);
      // A quiet spell after resuming starts the backoff over.
      setTimeout(() => {
        if (storm.pausedUntil === undefined && Date.now() - (storm.recent.at(-1) ?? 0) >= STORM.quietMs)
          storm.pauses = 0;
      }, STORM.quietMs).unref();
    }, delay).unref();
  }

  /**
   * One run per job at a time in this process. A worker the watchdog force-closed leaves its
   * runs going (close(true) does not stop a processor); once their lock lapses BullMQ hands the
   * job to the new worker, which must not start it beside the old run. It waits for that run
   * to end (its fenced checkpoint writes stop it once the lock moved on), re-reads the job's
   * checkpoints, and only then continues the work.
   */
  private once(spec: WorkerSpec): Processor {
    return async (job: Job, token?: string, signal?: AbortSignal) => {
      const key = `${spec.queue}\n${job.id ?? ''}`;
      const earlier = this.running.get(key);
      if (earlier) {
        this.opts.log.warn(
          { queue: spec.queue, jobId: job.id },
          'job still running here under a closed worker; waiting for that run before continuing',
        );
        await earlier.catch(() => undefined);
        const data = await this.opts.probe.hget(`${job.queueQualifiedName}:${job.id}`, 'data');
        if (data) job.data = JSON.parse(data) as unknown;
      }
      const run: Promise<unknown> = Promise.resolve(spec.processor(job, token, signal));
      this.running.set(key, run);
      try {
        return await run;
      } finally {
        if (this.running.get(key) === run) this.running.delete(key);
      }
    };
  }

  /** The current workers (a recreated worker replaces its predecessor here). */
  workers(): Worker[] {
    return this.managed.map((m) => m.worker);
  }

  /** Ready = every worker running and none wedged. */
  healthy(): boolean {
    return (
      this.managed.length > 0 &&
      this.managed.every((m) => m.worker.isRunning() && m.wedgedSince === undefined)
    );
  }

  private async watch(): Promise<void> {
    if (this.closing) return;
    const redisUp = this.opts.probe.status === 'ready';
    const now = Date.now();
    for (const m of this.managed) {
      if (m.storm.pausedUntil !== undefined) continue;
      const blocking = await m.worker.getBackend().blockingClient;
      const ok =
        m.worker.isRunning() &&
        (!blocking || blocking.status === 'ready' || blocking.status === 'connecting');
      if (ok || !redisUp) {
        if (ok) delete m.wedgedSince;
        continue;
      }
      m.wedgedSince ??= now;
      if (now - m.wedgedSince >= (this.opts.wedgeAfterMs ?? 10_000)) await this.recreate(m);
    }
  }

  private async recreate(m: Managed): Promise<void> {
    this.opts.log.warn({ queue: m.spec.queue }, 'worker stopped consuming after a reconnect; recreating it');
    this.opts.metrics.workerRecreated.inc({ queue: m.spec.queue });
    const old = m.worker;
    const oldConnection = m.connection;
    const fresh = this.create(m.spec);
    m.worker = fresh.worker;
    m.connection = fresh.connection;
    m.storm = fresh.storm;
    delete m.wedgedSince;
    await old.close(true).catch(() => undefined);
    oldConnection.disconnect();
  }

  /**
   * Stops taking jobs and waits for active ones up to `timeoutMs`; then forces the close.
   * Jobs cut off this way stall and are picked up by another worker (or this one after a restart).
   */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all(
      this.managed.map(async (m) => {
        const graceful = m.worker.close();
        const timedOut = await Promise.race([
          graceful.then(() => false),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(true), timeoutMs).unref()),
        ]);
        if (timedOut) await m.worker.close(true).catch(() => undefined);
        m.connection.disconnect();
      }),
    );
  }
}
