import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import type { RedisClient } from '../../src/redis/client.js';
import { scanKeys } from '../../src/redis/scan.js';
import { parseEnv, type Env } from '../../src/config/env.js';
import { parseConfigText } from '../../src/config/load.js';
import { startBackout, type Backout } from '../../src/app.js';
import { GitHubDouble } from '../doubles/github.js';
import { HttpTarget } from '../doubles/http-target.js';
import { writeKubeconfig } from '../doubles/kubeconfig.js';
import { KubernetesDouble } from '../doubles/kubernetes.js';
import { PrometheusDouble } from '../doubles/prometheus.js';
import { SlackDouble } from '../doubles/slack.js';
import { SocketModeDouble } from '../doubles/slack-socket-mode.js';
import { SlackClient } from './slack-signing.js';
import { socketDelivery } from './socket-transport.js';
import { waitFor } from './wait.js';

export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';
export const BOT_TOKEN = 'xoxb-test-0000-backout-token';
export const GITHUB_TOKEN = 'ghp_testtoken0000000000000000000000000000';

/** People and groups used throughout the tests. */
export const PEOPLE = {
  requester: 'U0REQUEST',
  sre1: 'U0SRE1',
  sre2: 'U0SRE2',
  oncall: 'U0ONCALL1',
  stranger: 'U0STRANGER',
  oncallGroup: 'S0ONCALL',
  incident: 'C0INCIDENT',
  checkout: 'C0CHECKOUT',
  random: 'C0RANDOM',
};

/** Slack's pace (3 posts in any 3 s, a thread reply a second) compressed tenfold, for in-process tests. */
export const COMPRESSED_SLACK_PACE = {
  'chat.postMessage': { burst: 3, windowMs: 300 },
  'chat.update': { burst: 4, windowMs: 200 },
};

/** A config shaped like SPEC §5, with durations compressed for tests. */
export function defaultConfigYaml(w: { prometheus: string; probe: string }, extra = ''): string {
  return `
slack:
  incidentChannel: ${PEOPLE.incident}
policy:
  approvers: { users: [${PEOPLE.sre1}, ${PEOPLE.sre2}], usergroups: [${PEOPLE.oncallGroup}] }
  approval: required
  twoPerson: true
  approvalTtl: 15m
services:
  checkout-api:
    github: { repo: acme/checkout }
    environments:
      production:
        default: true
        kubernetes: { context: prod, namespace: shop, deployment: checkout-api }
        channel: ${PEOPLE.checkout}
        health:
          probes:
            - { url: "${w.probe}/healthz/ready", expectStatus: 200 }
          prometheus:
            url: ${w.prometheus}
            checks:
              - { name: error-rate, query: 'sum(rate(http_requests_total{job="checkout",code=~"5.."}[1m])) / sum(rate(http_requests_total{job="checkout"}[1m]))', max: 0.005 }
              - { name: p99-latency, query: 'histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{job="checkout"}[1m])) by (le))', max: 0.8 }
          stabilityWindow: 300ms
          interval: 100ms
        rollout: { timeout: 20s }
      staging:
        kubernetes: { context: staging, namespace: shop, deployment: checkout-api }
        policy: { approval: not-required }
  payments:
    environments:
      production:
        kubernetes: { context: prod, namespace: pay, deployment: payments }
${extra}`;
}

/** How Slack reaches backout: signed POSTs to /slack/events, or envelopes over a Socket Mode WebSocket. */
export type Transport = 'http' | 'socket';

export interface World {
  slack: SlackDouble;
  transport: Transport;
  /** Slack's Socket Mode side, in a `socket` world. */
  socket?: SocketModeDouble;
  prod: KubernetesDouble;
  staging: KubernetesDouble;
  github: GitHubDouble;
  prometheus: PrometheusDouble;
  probe: HttpTarget;
  dir: string;
  /** The key prefix backout uses (hash-tagged on Cluster). */
  prefix: string;
  redis: RedisClient;
  env: Env;
  rawEnv: Record<string, string>;
  configPath: string;
  /** Starts backout in this process against the doubles. */
  start(overrides?: Record<string, string>): Promise<RunningApp>;
  close(): Promise<void>;
}

export interface RunningApp {
  app: Backout;
  url: string;
  client: SlackClient;
  logs: string[];
  stop(): Promise<void>;
}

/** Doubles for Slack, Kubernetes (prod and staging, over HTTPS with a bearer token each), GitHub, Prometheus and a probe target; a unique Redis prefix. */
export async function createWorld(
  opts: {
    config?: (w: { prometheus: string; probe: string }) => string;
    seed?: boolean;
    /** Another Redis than the standalone one on 6379: its variables and a client for the test's reads. */
    redis?: { env: Record<string, string>; client: () => RedisClient };
    /** Default `http`; `socket` sets SLACK_APP_TOKEN and sends every request as an envelope. */
    transport?: Transport;
    /**
     * Slack's real per-channel pace for the notifier (a thread reply a second), for tests about
     * pacing. By default in-process backouts post at a compressed pace, as other durations are.
     */
    realSlackPace?: boolean;
  } = {},
): Promise<World> {
  const [slack, prod, staging, github, prometheus, probe] = await Promise.all([
    SlackDouble.start(),
    KubernetesDouble.start({ name: 'prod', tls: true }),
    KubernetesDouble.start({ name: 'staging', tls: true }),
    GitHubDouble.start({ token: GITHUB_TOKEN }),
    PrometheusDouble.start(),
    HttpTarget.start(),
  ]);
  const transport = opts.transport ?? 'http';
  const socket = transport === 'socket' ? await SocketModeDouble.start(slack) : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'backout-test-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, [
    { name: 'prod', server: prod.url, ...(prod.caPem ? { ca: prod.caPem } : {}) },
    { name: 'staging', server: staging.url, ...(staging.caPem ? { ca: staging.caPem } : {}) },
  ]);
  const configPath = join(dir, 'backout.yml');
  const urls = { prometheus: prometheus.url, probe: probe.url };
  await writeFile(configPath, (opts.config ?? defaultConfigYaml)(urls));
  slack.setUsergroup(PEOPLE.oncallGroup, [PEOPLE.oncall]);
  prometheus.set('code=~"5.."', 0.001);
  prometheus.set('histogram_quantile', 0.21);
  if (opts.seed !== false) {
    const images = ['shop/checkout:1.4.0', 'shop/checkout:1.4.1', 'shop/checkout:1.4.2'];
    for (const k of [prod, staging]) {
      k.addDeployment({
        namespace: 'shop',
        name: 'checkout-api',
        replicas: 3,
        containers: images.map((image) => [{ name: 'app', image }]),
      });
    }
  }
  const rawPrefix = `test-${randomUUID().slice(0, 8)}`;
  const rawEnv: Record<string, string> = {
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    GITHUB_TOKEN,
    GITHUB_API_URL: github.url,
    KUBECONFIG: kubeconfig,
    REDIS_URL: 'redis://127.0.0.1:6379',
    BACKOUT_CONFIG: configPath,
    PORT: '0',
    AUDIT_LOG_DIR: join(dir, 'audit'),
    BACKOUT_PREFIX: rawPrefix,
    LOG_LEVEL: 'info',
    BACKOUT_SHUTDOWN_TIMEOUT: '3s',
    ...(socket ? { SLACK_APP_TOKEN: socket.appToken } : {}),
  };
  if (opts.redis) {
    delete rawEnv.REDIS_URL;
    Object.assign(rawEnv, opts.redis.env);
  }
  const env = parsedEnv(rawEnv);
  const prefix = env.redis.prefix;
  const redis: RedisClient = opts.redis
    ? opts.redis.client()
    : new Redis('redis://127.0.0.1:6379', { lazyConnect: false, maxRetriesPerRequest: 1 });
  const running: RunningApp[] = [];

  const world: World = {
    slack,
    transport,
    ...(socket ? { socket } : {}),
    prod,
    staging,
    github,
    prometheus,
    probe,
    dir,
    prefix,
    redis,
    env,
    rawEnv,
    configPath,
    async start(overrides = {}) {
      const merged = { ...rawEnv, ...overrides };
      const { readFile } = await import('node:fs/promises');
      const parsed = parseConfigText(await readFile(merged.BACKOUT_CONFIG!, 'utf8'));
      if (!parsed.ok) throw new Error(`test config invalid:\n${parsed.problems.join('\n')}`);
      const logs: string[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          logs.push(chunk.toString());
          cb();
        },
      });
      const app = await startBackout(parsedEnv(merged), parsed.config, {
        logDestination: sink,
        environ: merged,
        ...(opts.realSlackPace ? {} : { slackPace: COMPRESSED_SLACK_PACE }),
      });
      const url = `http://127.0.0.1:${app.port}/slack/events`;
      const client = new SlackClient({
        url,
        signingSecret: SIGNING_SECRET,
        newResponseUrl: () => slack.newResponseUrl(),
        ...(socket && merged.SLACK_APP_TOKEN ? { deliver: socketDelivery(socket) } : {}),
      });
      if (socket && merged.SLACK_APP_TOKEN)
        await waitFor(() => app.readiness().checks.slack === true, { what: 'the Socket Mode connection' });
      const handle: RunningApp = { app, url, client, logs, stop: () => app.stop() };
      running.push(handle);
      return handle;
    },
    async close() {
      await Promise.allSettled(running.map((r) => r.app.stop()));
      await Promise.allSettled([
        socket?.stop(),
        slack.stop(),
        prod.stop(),
        staging.stop(),
        github.stop(),
        prometheus.stop(),
        probe.stop(),
      ]);
      await deleteKeys(redis, prefix);
      redis.disconnect();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}

function parsedEnv(raw: Record<string, string>): Env {
  const result = parseEnv(raw);
  if (!result.ok) throw new Error(`test env invalid: ${result.problems.join('; ')}`);
  return result.env;
}

export async function deleteKeys(redis: RedisClient, prefix: string): Promise<void> {
  const keys = await scanKeys(redis, `${prefix}:*`, 500);
  // One call per key: on Cluster a DEL of many keys must stay within one slot.
  for (let i = 0; i < keys.length; i += 500)
    await Promise.all(keys.slice(i, i + 500).map((key) => redis.del(key)));
}
