import { LogLevel, WebClient } from '@slack/web-api';
import { envSchema, parseEnv, redisSetup } from '../config/env.js';
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/model.js';
import { KubeClients } from '../integrations/kubernetes/clients.js';
import { connectOnce } from '../redis/connect-once.js';
import { fail, ok, type CheckResult } from './check.js';
import { githubChecks } from './github.js';
import { kubernetesChecks } from './kubernetes.js';
import { manifestBotScopes } from './manifest.js';
import { notifierChecks } from './notifier.js';
import { redisChecks } from './redis.js';
import { slackChecks } from './slack.js';
import { socketModeChecks } from './socket-mode.js';
import { plural } from '../text/plural.js';

const AREAS: CheckResult['area'][] = ['environment', 'config', 'slack', 'kubernetes', 'github', 'redis'];

/**
 * `backout doctor`'s composition root: builds its own clients from the environment and the
 * config (the same integration classes backout uses) and checks every connection and
 * permission backout needs. Every check runs even when others fail, so one run lists
 * every problem.
 */
export async function runDoctor(raw: NodeJS.ProcessEnv): Promise<CheckResult[]> {
  const checks: CheckResult[] = [];
  const parsed = parseEnv(raw);
  if (parsed.ok) checks.push(ok('environment', 'variables', 'all set and valid'));
  else {
    for (const p of parsed.problems) {
      const [key = 'variables', ...rest] = p.split(' ');
      checks.push(
        fail('environment', key, rest.join(' '), 'set it as README.md, "Configuration", describes'),
      );
    }
  }
  const field = <K extends keyof typeof envSchema.shape>(key: K) => {
    const r = envSchema.shape[key].safeParse(raw[key] === '' ? undefined : raw[key]);
    return r.success ? (r.data as unknown) : undefined;
  };
  const str = (key: keyof typeof envSchema.shape) => {
    const v = field(key);
    return typeof v === 'string' ? v : undefined;
  };

  const configPath = str('BACKOUT_CONFIG') ?? './backout.yml';
  let config: Config | undefined;
  const loaded = await loadConfigFile(configPath);
  if (loaded.ok) {
    config = loaded.config;
    checks.push(ok('config', configPath, `valid: ${plural(config.services.size, 'service')}`));
  } else {
    checks.push(
      fail(
        'config',
        configPath,
        `${plural(loaded.problems.length, 'problem')}: ${loaded.problems.join('; ')}`,
        '`backout config check` lists them one per line; Kubernetes, GitHub and channel checks need a valid file',
      ),
    );
  }

  const token = str('SLACK_BOT_TOKEN');
  const slackApiUrl = str('SLACK_API_URL');
  const redis = redisSetup(
    {
      REDIS_URL: str('REDIS_URL') ?? 'redis://127.0.0.1:6379',
      REDIS_SENTINELS: str('REDIS_SENTINELS'),
      REDIS_SENTINEL_MASTER: str('REDIS_SENTINEL_MASTER'),
      REDIS_CLUSTER_NODES: str('REDIS_CLUSTER_NODES'),
      REDIS_USERNAME: str('REDIS_USERNAME'),
      REDIS_PASSWORD: str('REDIS_PASSWORD'),
      REDIS_TLS: field('REDIS_TLS') === true ? true : field('REDIS_TLS') === false ? false : undefined,
      BACKOUT_PREFIX: str('BACKOUT_PREFIX') ?? 'backout',
    },
    str('REDIS_URL') !== undefined,
  );
  const kubeconfig = str('KUBECONFIG');
  const github = { GITHUB_TOKEN: str('GITHUB_TOKEN'), GITHUB_API_URL: str('GITHUB_API_URL') };

  const [slack, kube, gh, redisResults, notifier, link] = await Promise.all([
    token
      ? manifestBotScopes().then(
          (scopes) => slackChecks(slackClient(token, slackApiUrl), config, scopes, slackApiUrl),
          (err: unknown) => slackChecks(slackClient(token, slackApiUrl), config, asError(err), slackApiUrl),
        )
      : Promise.resolve([]),
    config
      ? kubeClients(kubeconfig).then((clients) => kubernetesChecks(clients, config, kubeconfig))
      : Promise.resolve([]),
    config ? githubChecks(github, config) : Promise.resolve([]),
    redis.ok
      ? redisChecks({
          topology: redis.setup.topology,
          prefix: redis.setup.prefix,
          connect: () => connectOnce(redis.setup.topology),
        })
      : // Already listed under "environment" (parseEnv runs the same check).
        Promise.resolve([]),
    redis.ok
      ? notifierChecks(() => connectOnce(redis.setup.topology), redis.setup.prefix)
      : Promise.resolve([]),
    socketModeChecks(str('SLACK_APP_TOKEN'), slackApiUrl),
  ]);
  checks.push(...link, ...slack, ...notifier, ...kube, ...gh, ...redisResults);
  return checks.sort((a, b) => AREAS.indexOf(a.area) - AREAS.indexOf(b.area));
}

function slackClient(token: string, slackApiUrl: string | undefined): WebClient {
  return new WebClient(token, {
    ...(slackApiUrl ? { slackApiUrl } : {}),
    timeout: 8_000,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logLevel: LogLevel.ERROR,
  });
}

async function kubeClients(kubeconfig: string | undefined): Promise<KubeClients | Error> {
  try {
    const clients = new KubeClients(kubeconfig);
    await clients.load();
    return clients;
  } catch (err) {
    return asError(err);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
