import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric backout exposes on /metrics, in one registry built once by the composition root. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'backout_process_' });
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
    queueDepth: new Gauge({
      name: 'backout_queue_depth',
      help: 'Jobs per queue and state',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
    }),
    workerRecreated: new Counter({
      name: 'backout_worker_recreated_total',
      help: 'Workers recreated by the watchdog after their blocking connection wedged',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
