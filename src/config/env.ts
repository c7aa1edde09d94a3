import { z } from 'zod';
import { parseDuration } from './duration.js';
import { effectivePrefix } from '../redis/prefix.js';
import { redisTopology, type RedisTopology } from '../redis/topology.js';

/** The runtime contract (SPEC §5): names are fixed so operators and tests can rely on them. */
const flag = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const answer = parseBoolean(v);
    if (answer === 'invalid') {
      ctx.addIssue({
        code: 'custom',
        message: `must be 1, true, yes or on, or 0, false, no or off (got ${JSON.stringify(v)})`,
      });
      return z.NEVER;
    }
    return answer;
  });

/** Strict booleans (SPEC §5): anything but these words is a mistake, never a silent "no". */
export function parseBoolean(value: string | undefined): boolean | 'invalid' {
  if (value === undefined) return false;
  const word = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(word)) return true;
  if (['0', 'false', 'no', 'off'].includes(word)) return false;
  return 'invalid';
}

const port = (fallback: number | undefined) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return fallback;
      const n = Number(v.trim());
      if (!/^\d+$/.test(v.trim()) || n > 65535) {
        ctx.addIssue({ code: 'custom', message: `must be a port number (got ${JSON.stringify(v)})` });
        return z.NEVER;
      }
      return n;
    });

/** A strict boolean (SPEC §5): anything but these words stops start-up. */
const strictFlag = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    if (/^(1|true|yes|on)$/i.test(v.trim())) return true;
    if (/^(0|false|no|off)$/i.test(v.trim())) return false;
    ctx.addIssue({ code: 'custom', message: 'must be 1/true/yes/on or 0/false/no/off' });
    return z.NEVER;
  });

const optionalUrl = (what: string) =>
  z
    .url({ error: `must be a URL (${what})` })
    .optional()
    .or(z.literal('').transform(() => undefined));

export const envSchema = z.object({
  SLACK_BOT_TOKEN: z
    .string({
      error: 'is missing: the bot token (xoxb-…) from the Slack app\'s "OAuth & Permissions" page',
    })
    .regex(/^xox[bp]-/, 'must be a bot token starting with xoxb-'),
  SLACK_SIGNING_SECRET: z.string().min(1).optional(),
  SLACK_APP_TOKEN: z
    .string()
    .regex(/^xapp-/, 'must be an app-level token starting with xapp- (Basic Information → App-Level Tokens)')
    .optional(),
  SLACK_API_URL: optionalUrl('the Slack Web API base, e.g. https://slack.com/api/'),
  GITHUB_TOKEN: z.string().min(1).optional(),
  GITHUB_API_URL: optionalUrl('e.g. https://api.github.com or https://ghe.example.com/api/v3'),
  KUBECONFIG: z.string().min(1).optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .default('redis://127.0.0.1:6379'),
  /** Sentinel: `host:port,host:port` of the sentinels, and the master's name (instead of REDIS_URL). */
  REDIS_SENTINELS: z.string().optional(),
  REDIS_SENTINEL_MASTER: z.string().optional(),
  /** Cluster: seed nodes `host:port,host:port` (instead of REDIS_URL). */
  REDIS_CLUSTER_NODES: z.string().optional(),
  /** Credentials and TLS for Sentinel and Cluster (a REDIS_URL carries its own). */
  REDIS_USERNAME: z.string().optional(),
  REDIS_PASSWORD: z.string().optional(),
  REDIS_TLS: strictFlag,
  BACKOUT_CONFIG: z.string().min(1).default('./backout.yml'),
  PORT: port(3000).transform((v) => v ?? 3000),
  /** Also serve `/metrics` on this port (not public behind an Ingress); `/metrics` stays on PORT too. */
  METRICS_PORT: port(undefined),
  /** Bearer token (and HMAC key of /hooks/alert) webhooks must present (`Authorization: Bearer …`); unset: the hooks answer 404. */
  BACKOUT_WEBHOOK_TOKEN: z.string().min(1).optional(),
  BACKOUT_ROLE: z.enum(['all', 'web', 'worker'], { error: 'must be all, web or worker' }).default('all'),
  DRY_RUN: flag,
  AUDIT_LOG_DIR: z.string().min(1).default('./audit'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** Redis key prefix for queues and state; on Redis Cluster it must carry a hash tag (`backout` becomes `{backout}`). */
  BACKOUT_PREFIX: z
    .string()
    .regex(/^[^:\s]+$/, 'must not contain ":" or spaces')
    .default('backout'),
  /** Unleash Admin API base (e.g. https://unleash.example.com) and token, for `/flag` on services using Unleash. */
  UNLEASH_API_URL: optionalUrl('the Unleash server base, e.g. https://unleash.example.com'),
  UNLEASH_API_TOKEN: z.string().min(1).optional(),
  /** LaunchDarkly REST API base (default https://app.launchdarkly.com) and access token. */
  LAUNCHDARKLY_API_URL: optionalUrl('e.g. https://app.launchdarkly.com'),
  LAUNCHDARKLY_API_TOKEN: z.string().min(1).optional(),
  /** Atlassian Statuspage API base (default https://api.statuspage.io/v1) and API key, for status page posts. */
  STATUSPAGE_API_URL: optionalUrl('e.g. https://api.statuspage.io/v1'),
  STATUSPAGE_API_KEY: z.string().min(1).optional(),
  /** How long a failing Statuspage call is retried (from the timers queue) before the thread is told to post by hand. */
  STATUSPAGE_RETRY_FOR: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return 30 * 60_000;
      const ms = parseDuration(v);
      if (ms === undefined || ms < 1_000 || ms > 86_400_000) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration from 1s to 24h, such as 30m' });
        return z.NEVER;
      }
      return ms;
    }),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl('the OTLP/HTTP endpoint base, e.g. http://otel-collector:4318'),
  /** Deadline of one Kubernetes API call, credential plugin and body included. */
  BACKOUT_KUBE_TIMEOUT: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return 15_000;
      const ms = parseDuration(v);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration such as 15s' });
        return z.NEVER;
      }
      return ms;
    }),
  /**
   * How long a job's lock lives without renewal: a job whose worker died is picked up again
   * within this plus half of it. Shorter fails over faster but loses the lock to a longer stall.
   */
  BACKOUT_JOB_LOCK: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return 10_000;
      const ms = parseDuration(v);
      if (ms === undefined || ms < 2_000 || ms > 300_000) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration from 2s to 5m, such as 10s' });
        return z.NEVER;
      }
      return ms;
    }),
  BACKOUT_SHUTDOWN_TIMEOUT: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return 10_000;
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration such as 10s' });
        return z.NEVER;
      }
      return ms;
    }),
});

/** The Redis backout talks to and the key prefix it uses there (hash-tagged on Cluster). */
export interface RedisSetup {
  topology: RedisTopology;
  prefix: string;
  /** The prefix as configured, when Cluster made it `{prefix}`. */
  prefixChangedFrom?: string;
}

export type Env = z.infer<typeof envSchema> & { redis: RedisSetup };

/** Topology and prefix from the parsed variables, or why they cannot work together. */
export function redisSetup(
  env: Pick<
    z.infer<typeof envSchema>,
    | 'REDIS_URL'
    | 'REDIS_SENTINELS'
    | 'REDIS_SENTINEL_MASTER'
    | 'REDIS_CLUSTER_NODES'
    | 'REDIS_USERNAME'
    | 'REDIS_PASSWORD'
    | 'REDIS_TLS'
    | 'BACKOUT_PREFIX'
  >,
  /** Whether REDIS_URL was set explicitly (the schema fills in a default). */
  urlGiven: boolean,
): { ok: true; setup: RedisSetup } | { ok: false; problems: string[] } {
  const topo = redisTopology({ ...env, REDIS_URL: urlGiven ? env.REDIS_URL : undefined });
  if (!topo.ok) return topo;
  const decided = effectivePrefix(env.BACKOUT_PREFIX, topo.topology.kind === 'cluster');
  if (!decided.ok) return { ok: false, problems: [decided.problem] };
  return {
    ok: true,
    setup: {
      topology: topo.topology,
      prefix: decided.prefix,
      ...(decided.changed ? { prefixChangedFrom: env.BACKOUT_PREFIX } : {}),
    },
  };
}

/** Reads the environment; returns every problem at once rather than the first. */
export function parseEnv(env: NodeJS.ProcessEnv): { ok: true; env: Env } | { ok: false; problems: string[] } {
  // Treat empty strings as unset, as shells and orchestrators often export them.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = envSchema.safeParse(cleaned, { reportInput: true });
  // Checked apart from the schema so it is reported together with every other problem.
  const modeProblem =
    !cleaned.SLACK_APP_TOKEN && !cleaned.SLACK_SIGNING_SECRET
      ? [
          'SLACK_SIGNING_SECRET is missing: HTTP mode needs the signing secret from the Slack app\'s "Basic Information" page (or set SLACK_APP_TOKEN for Socket Mode)',
        ]
      : [];
  const redis = result.success ? redisSetup(result.data, cleaned.REDIS_URL !== undefined) : undefined;
  const redisProblems = redis && !redis.ok ? redis.problems : [];
  if (result.success && redis?.ok && modeProblem.length === 0)
    return { ok: true, env: { ...result.data, redis: redis.setup } };
  return {
    ok: false,
    problems: [...(result.success ? [] : result.error.issues)]
      .map((issue) => {
        const key = issue.path.join('.');
        const message =
          issue.code === 'invalid_type' && issue.input === undefined ? 'is missing' : issue.message;
        return `${key} ${message}`;
      })
      .concat(modeProblem, redisProblems),
  };
}
