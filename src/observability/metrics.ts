import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the queue-depth gauge reads on each scrape: BullMQ queues (`getJobCounts`). */
export interface CountedQueue {
  name: string;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed'];
const QUEUE_DEPTH_TIMEOUT_MS = 1_000;

/** Every metric backout exposes on /metrics, in one registry built once by the composition root. */
export function createMetrics() {
  const registry = new Registry();
  // Filled in by watchQueues(); read on each scrape, bounded, and never failing the scrape.
  let watched: readonly CountedQueue[] = [];
  // Default process metrics: backout_process_cpu_user_seconds_total, backout_nodejs_heap_size_used_bytes, …
  collectDefaultMetrics({ register: registry, prefix: 'backout_' });
  const m = {
    registry,
    commands: new Counter({
      name: 'backout_commands_total',
      help: 'Slash commands received, by command and result',
      labelNames: ['command', 'result'] as const,
      registers: [registry],
    }),
    ackLatency: new Histogram({
      name: 'backout_ack_latency_seconds',
      help: 'Time from receiving a Slack request to acknowledging it',
      labelNames: ['kind'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    approvals: new Counter({
      name: 'backout_approvals_total',
      help: 'Approval decisions, by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    replaysIgnored: new Counter({
      name: 'backout_interaction_replays_ignored_total',
      help: "Button clicks delivered again within Slack's 5-minute window (same action_ts, user and button), ignored",
      registers: [registry],
    }),
    orphanLocksFreed: new Counter({
      name: 'backout_orphan_locks_freed_total',
      help: 'Target locks freed by the sweep because their holder was overdue, gone or failed',
      registers: [registry],
    }),
    jobs: new Counter({
      name: 'backout_jobs_total',
      help: 'Jobs finished, by type and outcome',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    }),
    stepDuration: new Histogram({
      name: 'backout_step_duration_seconds',
      help: 'Duration of job steps, by job type and step',
      labelNames: ['type', 'step'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900],
      registers: [registry],
    }),
    slackCalls: new Counter({
      name: 'backout_slack_api_calls_total',
      help: 'Slack Web API calls, by method and result (ok, error, rate_limited, http_error)',
      labelNames: ['method', 'result'] as const,
      registers: [registry],
    }),
    slackRateLimited: new Counter({
      name: 'backout_slack_rate_limited_total',
      help: 'Slack Web API answers of 429 Too Many Requests',
      labelNames: ['method'] as const,
      registers: [registry],
    }),
    outboxDrainYields: new Counter({
      name: 'backout_outbox_drain_yields_total',
      help: "Outbox drains that gave their worker slot up to wait for a channel's Slack pace, every slot being taken",
      registers: [registry],
    }),
    slackDeadLetters: new Counter({
      name: 'backout_slack_dead_letters_total',
      help: 'Slack messages or edits refused for good and moved to the dead-letter list, by method and error',
      labelNames: ['method', 'error'] as const,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'backout_queue_depth',
      help: 'Jobs per queue and state (read from Redis at scrape time)',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
      async collect() {
        await Promise.all(
          watched.map(async (q) => {
            let timer: NodeJS.Timeout | undefined;
            const counts = await Promise.race([
              q.getJobCounts(...QUEUE_STATES),
              new Promise<undefined>((resolve) => {
                timer = setTimeout(() => resolve(undefined), QUEUE_DEPTH_TIMEOUT_MS);
              }),
            ])
              .catch(() => undefined)
              .finally(() => clearTimeout(timer));
            // Redis away or slow: keep the last values rather than fail the whole scrape.
            if (!counts) return;
            for (const state of QUEUE_STATES) this.set({ queue: q.name, state }, counts[state] ?? 0);
          }),
        );
      },
    }),
    workerRecreated: new Counter({
      name: 'backout_worker_recreated_total',
      help: 'Workers recreated by the watchdog after their blocking connection wedged',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    alerts: new Counter({
      name: 'backout_alerts_total',
      help: 'Alert notifications received on /hooks/, by source and what came of them',
      labelNames: ['source', 'outcome'] as const,
      registers: [registry],
    }),
    timeToMitigate: new Histogram({
      name: 'backout_time_to_mitigate_seconds',
      help: 'Incident stages: alert_to_proposal, proposal_to_approval, approval_to_applied, applied_to_verified',
      labelNames: ['stage'] as const,
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
      registers: [registry],
    }),
    /** Reports these queues' depths in backout_queue_depth on each scrape. */
    watchQueues(queues: readonly CountedQueue[]): void {
      watched = queues;
    },
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
