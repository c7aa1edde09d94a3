import { z } from 'zod';
import { parseDuration } from './duration.js';

/** The runtime contract (SPEC §5): names are fixed so operators and tests can rely on them. */
const flag = z
  .string()
  .optional()
  .transform((v) => v !== undefined && /^(1|true|yes|on)$/i.test(v.trim()));

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
  BACKOUT_CONFIG: z.string().min(1).default('./backout.yml'),
  PORT: z.coerce
    .number({ error: 'must be a port number' })
    .int('must be a whole number')
    .min(0)
    .max(65535)
    .default(3000),
  BACKOUT_ROLE: z.enum(['all', 'web', 'worker'], { error: 'must be all, web or worker' }).default('all'),
  DRY_RUN: flag,
  AUDIT_LOG_DIR: z.string().min(1).default('./audit'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** Redis key prefix for queues and state; use a hash tag such as `{backout}` on Redis Cluster. */
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
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl('the OTLP/HTTP endpoint base, e.g. http://otel-collector:4318'),
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

export type Env = z.infer<typeof envSchema>;

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
  if (result.success && modeProblem.length === 0) return { ok: true, env: result.data };
  return {
    ok: false,
    problems: [...(result.success ? [] : result.error.issues)]
      .map((issue) => {
        const key = issue.path.join('.');
        const message =
          issue.code === 'invalid_type' && issue.input === undefined ? 'is missing' : issue.message;
        return `${key} ${message}`;
      })
      .concat(modeProblem),
  };
}
