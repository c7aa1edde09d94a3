import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { WebClient } from '@slack/web-api';
import type { Env } from './config/env.js';
import type { Config } from './config/model.js';
import { RedisAuditLog } from './audit/log.js';
import { createHttpServer, type Readiness } from './http/server.js';
import { HttpHealthChecker } from './integrations/health.js';
import { KubeClients } from './integrations/kubernetes/clients.js';
import { KubeDeployments } from './integrations/kubernetes/deployments.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { noTracing } from './observability/tracing.js';
import { JOBS_QUEUE, TIMERS_QUEUE, type JobData } from './queue/job-definition.js';
import { createRedis } from './queue/redis.js';
import { createStepRunner } from './queue/step-runner.js';
import { createTimerProcessor, SWEEP_EVERY_MS } from './queue/timers.js';
import { WorkerPool } from './queue/workers.js';
import { RequestCards, cardKey } from './requests/card-view.js';
import { RequestFlow } from './requests/flow.js';
import { RequestStore } from './requests/store.js';
import { TargetLocks } from './requests/target-lock.js';
import { createSlackSurface, slackClientOptions } from './slack/bolt.js';
import { SlackDirectory } from './slack/directory.js';
import { registerInteractions } from './slack/interactions.js';
import { NOTIFY_QUEUE, QueueNotifier } from './slack/notifier.js';
import { createDrainProcessor } from './slack/notify-worker.js';
import { ResponseUrlResponder } from './slack/respond.js';
import { registerRollbackModal, RollbackModal } from '../commands/rollback-modal.js';
import { registerCommands } from '../commands/index.js';
import { rollForward } from '../commands/rollback.js';
import { definitionsByKind } from '../jobs/index.js';
import type { DestinationStream } from 'pino';

export interface Backout {
  /** The port actually listened on (PORT=0 picks a free one). */
  port: number;
  log: Logger;
  stop(): Promise<void>;
  readiness(): Readiness;
}

/**
 * The composition root: builds config-derived clients, Redis connections, queues,
 * workers and the Bolt app once, and passes small typed interfaces to commands and jobs.
 */
export async function startBackout(
  env: Env,
  config: Config,
  opts: { logDestination?: DestinationStream } = {},
): Promise<Backout> {
  const secrets = [
    env.SLACK_BOT_TOKEN,
    env.SLACK_SIGNING_SECRET,
    env.SLACK_APP_TOKEN,
    env.GITHUB_TOKEN,
  ].filter((s): s is string => typeof s === 'string');
  const log = createLogger({
    level: env.LOG_LEVEL,
    secrets,
    ...(opts.logDestination ? { destination: opts.logDestination } : {}),
  });
  const metrics = createMetrics();
  const tracing = noTracing;
  const prefix = env.BACKOUT_PREFIX;
  const redis = createRedis(env.REDIS_URL, 'command', log);
  const queueOpts = { connection: redis, prefix };
  const jobsQueue = new Queue<JobData>(JOBS_QUEUE, queueOpts);
  const notifyQueue = new Queue(NOTIFY_QUEUE, queueOpts);
  const timersQueue = new Queue(TIMERS_QUEUE, queueOpts);
  for (const q of [jobsQueue, notifyQueue, timersQueue]) {
    q.on('error', (err: Error) => log.warn({ queue: q.name, err: err.message }, 'queue error'));
  }

  // Slack: the Bolt app for the surface; its own client for look-ups and views; a separate
  // client for the notifier that never retries by itself (the notify queue does).
  const surface = createSlackSurface(env, log);
  const slackApi = new WebClient(env.SLACK_BOT_TOKEN, slackClientOptions(env));
  const slackNotifyClient = new WebClient(env.SLACK_BOT_TOKEN, {
    ...slackClientOptions(env),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
  });
  const directory = new SlackDirectory(slackApi);
  const responder = new ResponseUrlResponder(log);

  const kube = new KubeClients(env.KUBECONFIG);
  const deployments = new KubeDeployments(kube);
  const health = new HttpHealthChecker();

  const requests = new RequestStore(redis, prefix);
  const locks = new TargetLocks(redis, prefix);
  const audit = new RedisAuditLog(redis, prefix, env.AUDIT_LOG_DIR, log);
  const notifier = new QueueNotifier(redis, notifyQueue, prefix);
  const definitions = definitionsByKind();
  const cards = new RequestCards(requests, notifier, definitions);
  const flow = new RequestFlow({
    config,
    requests,
    locks,
    notifier,
    cards,
    audit,
    directory,
    jobs: jobsQueue,
    timers: timersQueue,
    metrics,
    log,
    dryRun: env.DRY_RUN,
  });

  const queueAvailable = () => redis.status === 'ready';
  const rollbackModal = new RollbackModal({
    config,
    deployments,
    directory,
    flow,
    responder,
    views: slackApi.views,
    log,
  });
  registerCommands(surface.app, {
    config,
    deployments,
    directory,
    flow,
    views: rollbackModal,
    log,
    metrics,
    queueAvailable,
    tracing,
  });
  registerRollbackModal(surface.app, rollbackModal);
  registerInteractions(surface.app, {
    flow,
    requests,
    log,
    metrics,
    followUps: {
      rollback: {
        undo: (request, user, place) =>
          rollForward(request, user, place, { config, deployments, directory, flow }),
      },
    },
  });

  // Workers (role all or worker).
  const shutdown = new AbortController();
  const pool = new WorkerPool({ redisUrl: env.REDIS_URL, prefix, log, metrics, probe: redis });
  if (env.BACKOUT_ROLE !== 'web') {
    await audit.init();
    const runner = createStepRunner(definitions, {
      requests,
      locks,
      notifier,
      audit,
      cards,
      metrics,
      log,
      dryRun: env.DRY_RUN,
      jobDeps: { config, deployments, health, locks, audit, notifier },
      shutdown: shutdown.signal,
      tracing,
    });
    const drain = createDrainProcessor({
      redis,
      prefix,
      slack: slackNotifyClient,
      log,
      metrics,
      onUndeliverable: async (key, channel, error) => {
        const requestId = key.split('.')[0]!;
        const request = await requests.get(requestId);
        if (!request) return;
        const why =
          error === 'not_in_channel' || error === 'channel_not_found'
            ? `I could not post in <#${channel}> because I am not a member of it (Slack said \`${error}\`). Invite me there with \`/invite @backout\`, then run the command again.`
            : `Slack refused my message in <#${channel}> (\`${error}\`).`;
        const cancelled =
          key === cardKey(requestId)
            ? await flow.cancel(requestId, `card could not be posted: ${error}`)
            : false;
        if (request.slack.responseUrl) {
          await responder.respond(request.slack.responseUrl, {
            text: `:warning: ${why}${cancelled ? ` Request \`${requestId}\` was cancelled; nothing was changed.` : ''}`,
          });
        }
      },
    });
    const timers = createTimerProcessor({
      flow,
      requests,
      redis,
      prefix,
      notify: notifyQueue,
      jobs: jobsQueue,
      log,
    });
    pool.start([
      { queue: JOBS_QUEUE, processor: runner, concurrency: 16 },
      { queue: NOTIFY_QUEUE, processor: drain, concurrency: 8 },
      { queue: TIMERS_QUEUE, processor: timers, concurrency: 4 },
    ]);
    await timersQueue
      .upsertJobScheduler(
        'sweep',
        { every: SWEEP_EVERY_MS },
        { name: 'sweep', opts: { removeOnComplete: true, removeOnFail: 100 } },
      )
      .catch((err: unknown) =>
        log.warn({ err }, 'could not schedule the sweep; it will be scheduled on the next start'),
      );
  }

  const readiness = (): Readiness => {
    const redisOk = redis.status === 'ready';
    const workersOk = env.BACKOUT_ROLE === 'web' ? true : pool.healthy();
    return {
      ready: redisOk && workersOk,
      checks: { redis: redisOk, workers: env.BACKOUT_ROLE === 'web' ? 'not run in this role' : workersOk },
    };
  };

  // Every role serves health and metrics; only web roles take Slack requests.
  const server = createHttpServer({
    ...(surface.receiver && env.BACKOUT_ROLE !== 'worker' ? { receiver: surface.receiver } : {}),
    readiness,
    registry: metrics.registry,
    log,
  });
  server.listen(env.PORT);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  if (surface.socketMode && env.BACKOUT_ROLE !== 'worker') await surface.app.start();
  log.info(
    { port, role: env.BACKOUT_ROLE, mode: surface.socketMode ? 'socket' : 'http', dryRun: env.DRY_RUN },
    'backout is up',
  );

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('shutting down');
      const deadline = env.BACKOUT_SHUTDOWN_TIMEOUT;
      server.close();
      server.closeIdleConnections();
      if (surface.socketMode) await surface.app.stop().catch(() => undefined);
      shutdown.abort();
      await pool.close(Math.max(1_000, deadline - 2_000));
      await Promise.allSettled([jobsQueue.close(), notifyQueue.close(), timersQueue.close()]);
      await audit.flush().catch(() => undefined);
      redis.disconnect();
      server.closeAllConnections();
      log.info('stopped');
    })());

  return { port, log, stop, readiness };
}
