import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { WebClient } from '@slack/web-api';
import type { App } from '@slack/bolt';
import type { Env } from './config/env.js';
import type { Config } from './config/model.js';
import { RedisAuditLog } from './audit/log.js';
import { scheduleAuditArchive } from './audit/retention.js';
import { createHttpServer, type Readiness } from './http/server.js';
import { HttpHealthChecker } from './integrations/health.js';
import { DEFAULT_TOKEN_ENV, type Environ } from './integrations/prometheus/client.js';
import { KubeClients, kubeconfigPaths } from './integrations/kubernetes/clients.js';
import { readKubeconfigFiles } from './integrations/kubernetes/kubeconfig.js';
import { KubeDeployments } from './integrations/kubernetes/deployments.js';
import { coalescePlanningReads } from './integrations/kubernetes/coalesce.js';
import { KubeSyncOwners } from './integrations/kubernetes/owners.js';
import { createTrafficProviders } from './integrations/traffic/index.js';
import { ArgoRolloutsProvider } from './integrations/traffic/argo-rollouts.js';
import { RolloutGateWatch } from './gates/rollout-watch.js';
import { createSwitchProviders } from './integrations/flags/index.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { noTracing } from './observability/tracing.js';
import { packageVersion } from './cli/package.js';
import { JOBS_QUEUE, TIMERS_QUEUE, type JobData } from './queue/job-definition.js';
import { createRedis } from './queue/redis.js';
import type { RedisClient } from './redis/client.js';
import { RedisProbe } from './redis/probe.js';
import { RepeatLog } from './redis/repeat-log.js';
import { describeTopology, topologyPassword } from './redis/topology.js';
import { createStepRunner } from './queue/step-runner.js';
import { createTimerProcessor, SWEEP_EVERY_MS } from './queue/timers.js';
import { ApiWarnings } from '../jobs/api-warnings.js';
import { WorkerPool } from './queue/workers.js';
import { RequestCards, cardKey } from './requests/card-view.js';
import { RequestFlow } from './requests/flow.js';
import { RequestStore } from './requests/store.js';
import { TargetLocks } from './requests/target-lock.js';
import { createSlackSurface, slackClientOptions } from './slack/bolt.js';
import { SlackDirectory, SlackPeople } from './slack/directory.js';
import { SlackMembership } from './slack/membership.js';
import { RedisReplayGuard } from './slack/replay-guard.js';
import { EnvelopeLedger } from './slack/envelope-ledger.js';
import { registerInteractions } from './slack/interactions.js';
import { NOTIFY_QUEUE, QueueNotifier } from './slack/notifier.js';
import { OutboxBell } from './slack/outbox-bell.js';
import { keptAliveFetch } from './slack/kept-alive-fetch.js';
import { createDrainProcessor, type DrainDeps } from './slack/notify-worker.js';
import { ResponseUrlResponder } from './slack/respond.js';
import { RollbackModal } from '../commands/rollback-modal.js';
import { registerCommands } from '../commands/index.js';
import { rollForward } from '../commands/rollback.js';
import { RetractionRollbacks } from '../commands/retract-children.js';
import { RetractModal } from '../commands/retract-modal.js';
import { registerDialog } from './slack/dialogs.js';
import { undoFromCard } from '../commands/retract-undo.js';
import { createGitHubClient, GitHubReleases } from './integrations/github/client.js';
import { GitHubCi } from './integrations/github/ci.js';
import { FlaggerHooks } from './hooks/flagger.js';
import { RedisRetractions } from './integrations/github/retractions.js';
import { undoRetirement } from '../commands/retract-api.js';
import { DeprecationRegistry } from './api-retirement/index.js';
import { definitionsByKind } from '../jobs/index.js';
import { RedisCanaryBoard } from '../jobs/canary-control.js';
import { canaryFollowUps } from '../commands/canary-actions.js';
import { flagInsteadOfRollback, undoSwitch } from '../commands/flag-plan.js';
import { GroupMemberRollbacks, rollGroupForward } from '../commands/rollback-group.js';
import type { DestinationStream } from 'pino';
import { createHooks } from './hooks/index.js';
import { IncidentFollower } from './incidents/follow.js';
import { StatusPageQueue } from './incidents/status-queue.js';
import { checkApprover } from './policy/policy.js';
import type { BackoutRequest } from './requests/types.js';
import { AlertmanagerSilences } from './integrations/alerts/silences.js';
import { AtlassianStatusPage } from './integrations/statuspage/atlassian.js';

/**
 * Starts the Socket Mode link in the background: it keeps retrying while Slack cannot be
 * reached (and reconnects by itself later), so start-up and readiness never wait on Slack.
 * A start that fails outright is tried again.
 */
async function connectSocketMode(app: App, signal: AbortSignal, log: Logger): Promise<void> {
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      await app.start();
      log.info('Socket Mode link started');
      return;
    } catch (err) {
      log.warn(
        { err: (err as Error).message, attempt },
        'could not open the Socket Mode connection; retrying',
      );
      await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1_000 * 2 ** attempt)).unref());
    }
  }
}

/** Resolves when Redis is ready, after `timeoutMs`, or when `signal` aborts, whichever comes first; leaves no timer behind. */
function redisReadyOrStop(redis: RedisClient, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    if (redis.status === 'ready' || signal?.aborted) return done();
    redis.on('ready', done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * How often a worker registers its periodic jobs again. Registering is idempotent (the next run
 * keeps its time); it brings the schedule back after Redis lost its data (a restart without
 * persistence, a flush), which would otherwise stop the sweep until backout restarts.
 */
const RESCHEDULE_EVERY_MS = 300_000;

/**
 * Registers the periodic sweep, retrying until Redis takes it (or the process stops); then again
 * whenever the connection comes back and every RESCHEDULE_EVERY_MS.
 */
async function scheduleSweep(
  timers: Queue,
  redis: RedisClient,
  signal: AbortSignal,
  log: Logger,
  name = 'sweep',
  every = SWEEP_EVERY_MS,
): Promise<void> {
  const register = () =>
    timers.upsertJobScheduler(name, { every }, { name, opts: { removeOnComplete: true, removeOnFail: 100 } });
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      await register();
      break;
    } catch (err) {
      if (attempt === 0)
        log.warn({ err: (err as Error).message }, `could not schedule the ${name} yet; retrying`);
      await new Promise((resolve) => setTimeout(resolve, 5_000).unref());
    }
  }
  if (signal.aborted) return;
  // Failures here are Redis being away: the connection's own logging says so, and the next try follows.
  const again = () => void register().catch(() => undefined);
  const timer = setInterval(again, RESCHEDULE_EVERY_MS).unref();
  redis.on('ready', again);
  signal.addEventListener(
    'abort',
    () => {
      clearInterval(timer);
      redis.off('ready', again);
    },
    { once: true },
  );
}

export interface Backout {
  /** The port actually listened on (PORT=0 picks a free one). */
  port: number;
  /** The port `/metrics` is also served on, when METRICS_PORT is set. */
  metricsPort?: number;
  log: Logger;
  stop(): Promise<void>;
  readiness(): Readiness;
}

/**
 * Drains running at once in one process, one channel each. They mostly wait (on Slack, and on each
 * channel's pace): many at once keep one busy channel from holding up the others, and with all of
 * them taken a drain waiting for the pace gives its slot up (src/slack/drain.ts).
 */
const NOTIFY_SLOTS = 64;

/**
 * The composition root: builds config-derived clients, Redis connections, queues,
 * workers and the Bolt app once, and passes small typed interfaces to commands and jobs.
 */
export async function startBackout(
  env: Env,
  config: Config,
  opts: {
    logDestination?: DestinationStream;
    /** Where secrets the config names by variable are read (Prometheus tokens); default process.env. */
    environ?: Environ;
    /** Aborted when a stop is asked for while starting: start-up stops waiting for Redis. */
    signal?: AbortSignal;
    /** Slack's per-channel pace for the notifier; tests that compress time give a faster one. */
    slackPace?: DrainDeps['pace'];
  } = {},
): Promise<Backout> {
  const environ = opts.environ ?? process.env;
  const secrets = [
    env.SLACK_BOT_TOKEN,
    env.SLACK_SIGNING_SECRET,
    env.SLACK_APP_TOKEN,
    env.GITHUB_TOKEN,
    topologyPassword(env.redis.topology),
    environ[DEFAULT_TOKEN_ENV],
    env.UNLEASH_API_TOKEN,
    env.LAUNCHDARKLY_API_TOKEN,
    env.BACKOUT_WEBHOOK_TOKEN,
    env.STATUSPAGE_API_KEY,
  ].filter((s): s is string => typeof s === 'string');
  const log = createLogger({
    level: env.LOG_LEVEL,
    secrets,
    ...(opts.logDestination ? { destination: opts.logDestination } : {}),
  });
  const metrics = createMetrics();
  // Spans are exported only when an OTLP endpoint is configured.
  const tracing = env.OTEL_EXPORTER_OTLP_ENDPOINT
    ? // Loaded only when asked for: the OpenTelemetry SDK is not small.
      (await import('./observability/otel.js')).createOtelTracing({
        endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
        version: packageVersion(),
        log,
      })
    : noTracing;
  const { topology, prefix } = env.redis;
  const repeats = new RepeatLog(log);
  const redisLogging = { log, repeats };
  log.info({ redis: describeTopology(topology), prefix }, `redis: ${topology.kind}`);
  if (env.redis.prefixChangedFrom !== undefined) {
    log.warn(
      { configured: env.redis.prefixChangedFrom, prefix },
      `Redis Cluster: BACKOUT_PREFIX "${env.redis.prefixChangedFrom}" is used as "${prefix}" so that every key is in one slot; set BACKOUT_PREFIX=${prefix} to say so yourself`,
    );
  }
  const redis = createRedis(topology, 'command', redisLogging);
  const queueOpts = { connection: redis, prefix };
  const jobsQueue = new Queue<JobData>(JOBS_QUEUE, queueOpts);
  const notifyQueue = new Queue(NOTIFY_QUEUE, queueOpts);
  const timersQueue = new Queue(TIMERS_QUEUE, queueOpts);
  for (const q of [jobsQueue, notifyQueue, timersQueue]) {
    q.on('error', (err: Error) => repeats.warn({ queue: q.name, err: err.message }, 'queue error'));
  }
  metrics.watchQueues([jobsQueue, notifyQueue, timersQueue]);

  // Slack: the Bolt app for the surface; its own client for look-ups and views; a separate
  // client for the notifier that never retries by itself (the notify queue does).
  const surface = createSlackSurface(env, log, new EnvelopeLedger(redis, prefix), (kind, seconds) =>
    metrics.ackLatency.observe({ kind }, seconds),
  );
  const slackFetch = keptAliveFetch();
  const slackApi = new WebClient(env.SLACK_BOT_TOKEN, { ...slackClientOptions(env), fetch: slackFetch });
  const slackNotifyClient = new WebClient(env.SLACK_BOT_TOKEN, {
    ...slackClientOptions(env),
    fetch: slackFetch,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
  });
  const directory = new SlackDirectory(slackApi);
  // Who may request and approve: members of the installing workspace (auth.test, asked once now).
  const members = new SlackMembership(slackApi);
  if (env.BACKOUT_ROLE !== 'worker') {
    members.installed().catch((err: unknown) => {
      log.warn(
        { err: (err as Error).message },
        'auth.test failed at start-up; asked again on the first request',
      );
    });
  }
  const responder = new ResponseUrlResponder(log);

  const warnMissingContexts = (names: readonly string[]) => {
    const contexts = new Set(names);
    for (const svc of config.services.values()) {
      for (const e of svc.environments.values()) {
        if (!contexts.has(e.kubernetes.context)) {
          log.warn(
            { service: svc.name, environment: e.name, context: e.kubernetes.context },
            'the kubeconfig has no such context: commands for this environment will fail until it is added',
          );
        }
      }
    }
  };
  // The kubeconfig is loaded for use when a Kubernetes call is first made, in any role; the files
  // KUBECONFIG names are read now (start-up checked them) to warn about missing contexts.
  const kubeconfigFiles = kubeconfigPaths(env.KUBECONFIG);
  const kube = new KubeClients(
    env.KUBECONFIG,
    env.BACKOUT_KUBE_TIMEOUT,
    kubeconfigFiles.length ? undefined : (clients) => void clients.contexts().then(warnMissingContexts),
  );
  if (kubeconfigFiles.length) {
    try {
      warnMissingContexts(
        readKubeconfigFiles(kubeconfigFiles)
          .getContexts()
          .map((c) => c.name),
      );
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not read the kubeconfig to check its contexts');
    }
  }
  const deployments = new KubeDeployments(kube);
  // Commands and modals plan from reads shared while in flight; jobs read afresh.
  const planning = coalescePlanningReads(deployments);
  // Argo CD Applications and Flux objects that own Deployments (read for plans, paused on request).
  const owners = new KubeSyncOwners(kube);
  const health = new HttpHealthChecker(environ);
  // Canary traffic: Gateway API, Argo Rollouts and NGINX Ingress, over the same Kubernetes clients.
  const traffic = createTrafficProviders(kube, deployments);
  // Argo Rollouts run by their own pipelines: the gate's one-step promote.
  const argo = new ArgoRolloutsProvider(kube);
  // Kill switches: Unleash, LaunchDarkly, flagd's FeatureFlag, and CronJob suspension.
  const switches = createSwitchProviders({
    kube,
    unleash: { url: env.UNLEASH_API_URL, token: env.UNLEASH_API_TOKEN },
    launchdarkly: { url: env.LAUNCHDARKLY_API_URL, token: env.LAUNCHDARKLY_API_TOKEN },
  });
  // GitHub: one Octokit (retry + throttling plugins) for every release operation.
  const octokit = createGitHubClient({ token: env.GITHUB_TOKEN, baseUrl: env.GITHUB_API_URL, log });
  const releases = new GitHubReleases(octokit);
  // Gates before forward moves: CI of the image's commit, downstream probes, change windows.
  const gates = { ci: new GitHubCi(octokit), health, windows: config.windows };

  const requests = new RequestStore(redis, prefix);
  const locks = new TargetLocks(redis, prefix);
  const audit = new RedisAuditLog(redis, prefix, env.AUDIT_LOG_DIR, log);
  const outboxBell = new OutboxBell();
  const notifier = new QueueNotifier(redis, notifyQueue, prefix, outboxBell);
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
    members,
    jobs: jobsQueue,
    timers: timersQueue,
    metrics,
    log,
    dryRun: env.DRY_RUN,
  });

  // Connected is not enough: a node answering MOVED or READONLY cannot take a request either.
  const queueAvailable = () => redis.status === 'ready' && probe.healthy();
  // What people ask of running canaries (promote, abort, approve 100 %) and where each canary is.
  const canary = new RedisCanaryBoard({ redis, prefix, jobs: jobsQueue, locks, requests, log });
  // Argo Rollouts paused at `pause: {}` in watched environments: a card each, scanned by the timers worker.
  const rolloutWatch = new RolloutGateWatch({ config, argo, flow, requests, redis, prefix, directory, log });
  // Flagger's gate webhooks (POST /hooks/flagger/…): cards and approvals as for backout's own canaries.
  const flaggerHooks = new FlaggerHooks({
    token: env.BACKOUT_WEBHOOK_TOKEN,
    config,
    flow,
    requests,
    cards,
    audit,
    redis,
    prefix,
    directory,
    log,
  });
  const canaryDeps = { config, directory, flow, traffic, canary, audit, notifier, log, gates };
  // The deprecation registry services read through `backout/middleware` (same Redis, same prefix).
  const apiRegistry = new DeprecationRegistry(redis, prefix);
  const apiWarnings = new ApiWarnings({
    timers: timersQueue,
    registry: apiRegistry,
    notifier,
    leadsMs: config.apiWarnBeforeMs,
  });
  const rollbackModal = new RollbackModal({
    config,
    deployments: planning,
    owners,
    directory,
    flow,
    responder,
    views: slackApi.views,
    log,
  });
  const retractions = new RedisRetractions(redis, prefix, Math.ceil(config.auditRetentionMs / 1000));
  const retractDeps = { config, releases, retractions, deployments: planning, directory, flow };
  const retractModal = new RetractModal({ ...retractDeps, responder, views: slackApi.views, log });
  const acknowledgeCommand = registerCommands(surface.app, {
    releases,
    retractions,
    retractViews: retractModal,
    config,
    deployments: planning,
    owners,
    directory,
    members,
    flow,
    views: rollbackModal,
    log,
    metrics,
    queueAvailable,
    tracing,
    apiRegistry,
    traffic,
    canary,
    audit,
    notifier,
    switches,
    gates,
    responder,
  });
  surface.receiver?.acknowledgeCommandsWith(acknowledgeCommand);
  registerDialog(surface.app, rollbackModal);
  registerDialog(surface.app, retractModal);
  // Status page calls, posted by pump jobs on the timers queue (an outage delays them, across restarts).
  const statusPages =
    env.STATUSPAGE_API_KEY && config.statusPageId
      ? new StatusPageQueue({
          statusPage: new AtlassianStatusPage(env.STATUSPAGE_API_KEY, env.STATUSPAGE_API_URL),
          pageId: config.statusPageId,
          redis,
          prefix,
          timers: timersQueue,
          requests,
          audit,
          notifier,
          log,
          retryForMs: env.STATUSPAGE_RETRY_FOR,
        })
      : undefined;
  // Around every job: the timeline at its end; around alert-proposed ones also silences and status page posts.
  const follower = new IncidentFollower({
    config,
    redis,
    prefix,
    audit,
    requests,
    notifier,
    ...(config.alertmanagerUrl ? { silences: new AlertmanagerSilences(config.alertmanagerUrl) } : {}),
    ...(statusPages ? { statusPages } : {}),
    metrics,
    log,
  });
  // "Post to status page" in an alert proposal's thread: whoever may approve the request may post.
  const postStatusPage = async (request: BackoutRequest, user: string) => {
    await checkApprover(user, request, directory);
    return follower.postFromCard(request, user);
  };
  registerInteractions(surface.app, {
    flow,
    requests,
    members,
    replays: new RedisReplayGuard(redis, prefix),
    log,
    metrics,
    responder,
    followUps: {
      rollback: {
        undo: (request, user, place) =>
          rollForward(request, user, place, {
            config,
            deployments: planning,
            owners,
            directory,
            flow,
            gates,
          }),
        flagInstead: (request, user, place) =>
          flagInsteadOfRollback(request, user, place, { config, switches, directory, flow }),
        statusPage: postStatusPage,
      },
      retract: {
        undo: (request, user, place) => undoFromCard(request, user, place, retractDeps),
      },
      'api-retire': {
        undo: (request, user, place) =>
          undoRetirement(request, user, place, { config, directory, flow, apiRegistry, queueAvailable }),
      },
      canary: canaryFollowUps(canaryDeps),
      'flagger-gate': { abort: (request, user) => flaggerHooks.rollBack(request, user) },
      'rollout-gate': { abort: (request, user, place) => rolloutWatch.abort(request, user, place) },
      flag: {
        undo: (request, user, place) =>
          undoSwitch(request, user, place, { config, switches, directory, flow }),
        statusPage: postStatusPage,
      },
      'rollback-group': {
        undo: (request, user, place) =>
          rollGroupForward(request, user, place, {
            config,
            deployments: planning,
            owners,
            directory,
            flow,
            requests,
          }),
      },
    },
  });

  // Workers (role all or worker).
  const shutdown = new AbortController();
  const pool = new WorkerPool({
    connect: () => createRedis(topology, 'worker', redisLogging),
    prefix,
    log,
    repeats,
    metrics,
    probe: redis,
    timing: { lockDuration: env.BACKOUT_JOB_LOCK, stalledInterval: env.BACKOUT_JOB_LOCK / 2 },
  });
  // Readiness needs Redis to accept writes under the prefix, not only a connected socket.
  const probe = new RedisProbe({ redis, prefix, log, repeats, owner: randomUUID() });

  const readiness = (): Readiness => {
    const redisOk = redis.status === 'ready' && probe.healthy();
    const workersOk = env.BACKOUT_ROLE === 'web' ? true : pool.healthy();
    return {
      ready: redisOk && workersOk,
      checks: {
        redis:
          redisOk ||
          `not ready: ${redis.status === 'ready' ? (probe.last().error ?? 'no answer yet') : `connection ${redis.status}`}`,
        workers: env.BACKOUT_ROLE === 'web' ? 'not run in this role' : workersOk,
        // Reported, not required: with no inbound traffic to steer, an unready pod would only stall rollouts during a Slack outage.
        ...(surface.link && env.BACKOUT_ROLE !== 'worker' ? { slack: surface.link.state() } : {}),
      },
    };
  };

  // Listening comes first, whatever Redis does: liveness answers at once, readiness says "not
  // ready" until Redis answers. Every role serves health and metrics; only web roles take Slack requests.
  // Alerts in (/hooks/…): web roles only, like Slack.
  const hooks = createHooks({
    token: env.BACKOUT_WEBHOOK_TOKEN,
    intake: {
      config,
      deployments: planning,
      owners,
      directory,
      flow,
      switches,
      traffic,
      canary,
      redis,
      prefix,
      requests,
      locks,
      notifier,
      cards,
      audit,
      log,
    },
    metrics,
    log,
  });
  const server = createHttpServer({
    ...(surface.receiver && env.BACKOUT_ROLE !== 'worker' ? { receiver: surface.receiver } : {}),
    readiness,
    registry: metrics.registry,
    log,
    // Flagger's routes first: the alert router answers 404 for every other path under /hooks/.
    ...(env.BACKOUT_ROLE !== 'worker' ? { hooks: [flaggerHooks.route, hooks] } : {}),
  });
  server.listen(env.PORT);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  // METRICS_PORT: the same health and metrics endpoints on a port that is not exposed to Slack.
  const metricsServer =
    env.METRICS_PORT === undefined
      ? undefined
      : createHttpServer({ readiness, registry: metrics.registry, log }).listen(env.METRICS_PORT);
  if (metricsServer) await once(metricsServer, 'listening');

  // The command connection has no offline queue: give it a moment to connect before init reads Redis
  // (a stop asked for meanwhile ends the wait). Every role appends to the audit chain, so every role
  // continues it from the file if Redis lost it.
  await redisReadyOrStop(redis, 10_000, opts.signal);
  // Acknowledgements read the probe's last answer: have one before saying "up" when Redis is there
  // (bounded: a Redis that does not answer leaves it "not ready", as before).
  if (redis.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      probe.probe(),
      new Promise((resolve) => (timer = setTimeout(resolve, 2_000))),
    ]).finally(() => clearTimeout(timer));
  }
  probe.start();
  await audit.init().catch((err: unknown) => {
    log.warn(
      { err: (err as Error).message },
      'audit log not ready yet (Redis unreachable?); it catches up on the next record',
    );
  });
  // Jobs running in this process: a stop with none waits for nothing.
  let activeJobs = 0;
  const counted =
    <T extends (...args: never[]) => Promise<unknown>>(processor: T) =>
    async (...args: Parameters<T>): Promise<Awaited<ReturnType<T>>> => {
      activeJobs++;
      try {
        return (await processor(...args)) as Awaited<ReturnType<T>>;
      } finally {
        activeJobs--;
      }
    };
  // A stop asked for while starting: no workers to start, nothing more to wait for.
  if (env.BACKOUT_ROLE !== 'web' && !opts.signal?.aborted) {
    scheduleAuditArchive({
      audit,
      redis,
      prefix,
      dir: env.AUDIT_LOG_DIR,
      retentionMs: config.auditRetentionMs,
      log,
      signal: shutdown.signal,
    });
    const runner = createStepRunner(definitions, {
      requests,
      locks,
      notifier,
      audit,
      cards,
      redis,
      metrics,
      log,
      dryRun: env.DRY_RUN,
      jobDeps: {
        config,
        deployments,
        owners,
        health,
        locks,
        audit,
        notifier,
        people: new SlackPeople(slackApi),
        apiRegistry,
        apiWarnings,
        releases,
        retractions,
        traffic,
        argo,
        canary,
        requests,
        switches,
        statusLine: async (requestId, line) => {
          await requests.annotate(requestId, { statusLine: line });
          await cards.refresh(requestId);
        },
        memberRollbacks: new GroupMemberRollbacks({
          config,
          deployments,
          owners,
          directory,
          flow,
          requests,
          jobsQueue: jobsQueue.qualifiedName,
        }),
        childRollbacks: new RetractionRollbacks({
          config,
          deployments,
          owners,
          directory,
          flow,
          requests,
          jobsQueue: jobsQueue.qualifiedName,
        }),
      },
      shutdown: shutdown.signal,
      tracing,
      lifecycle: follower,
    });
    const drain = createDrainProcessor(
      {
        redis,
        prefix,
        bell: outboxBell,
        slack: slackNotifyClient,
        log,
        metrics,
        ...(opts.slackPace ? { pace: opts.slackPace } : {}),
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
      },
      NOTIFY_SLOTS,
    );
    const timers = createTimerProcessor({
      flow,
      requests,
      redis,
      prefix,
      notify: notifyQueue,
      jobs: jobsQueue,
      locks,
      metrics,
      log,
      apiWarning: (data) => apiWarnings.fire(data),
      ...(statusPages ? { statusPage: (job) => statusPages.pump(job) } : {}),
      rolloutGates: () => rolloutWatch.scan(),
    });
    pool.start([
      { queue: JOBS_QUEUE, processor: counted(runner), concurrency: 16 },
      { queue: NOTIFY_QUEUE, processor: counted(drain), concurrency: NOTIFY_SLOTS },
      { queue: TIMERS_QUEUE, processor: counted(timers), concurrency: 4 },
    ]);
    // In the background: with Redis down at start-up this waits for it rather than holding start-up.
    void scheduleSweep(timersQueue, redis, shutdown.signal, log);
    const gateScan = RolloutGateWatch.every(config);
    if (gateScan !== undefined)
      void scheduleSweep(timersQueue, redis, shutdown.signal, log, 'rollout-gates', gateScan);
  }

  if (surface.socketMode && env.BACKOUT_ROLE !== 'worker')
    void connectSocketMode(surface.app, shutdown.signal, log);
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
      metricsServer?.close();
      metricsServer?.closeAllConnections();
      if (surface.socketMode) await surface.app.stop().catch(() => undefined);
      shutdown.abort();
      // Running jobs get the shutdown bound to finish or be handed back; with none, close at once
      // (a graceful close would otherwise wait on a Redis that may not answer).
      // Closing talks to Redis: when it does not answer, give up after a bound rather than hang.
      const bounded = (work: Promise<unknown>, ms: number) =>
        Promise.race([work, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
      const jobsRunning = activeJobs > 0;
      await bounded(
        pool.close(jobsRunning ? Math.max(1_000, deadline - 2_000) : 0),
        jobsRunning ? deadline : 300,
      );
      await bounded(Promise.allSettled([jobsQueue.close(), notifyQueue.close(), timersQueue.close()]), 300);
      await audit.flush().catch(() => undefined);
      await tracing.shutdown();
      probe.stop();
      repeats.close();
      redis.disconnect();
      server.closeAllConnections();
      log.info('stopped');
    })());

  const metricsPort = metricsServer ? (metricsServer.address() as AddressInfo).port : undefined;
  return { port, ...(metricsPort === undefined ? {} : { metricsPort }), log, stop, readiness };
}
