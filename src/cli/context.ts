import { access } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { envSchema, redisSetup, type Env, type RedisSetup } from '../config/env.js';

/** What a CLI command reads and writes: lines out and err, and the environment. */
export interface CliIo {
  /** Raw text to stdout (reports). */
  write(text: string): void;
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
}

type Key = keyof typeof envSchema.shape;

/**
 * Reads only the variables a CLI command needs, with the same rules and defaults as the
 * server (so `backout report` does not ask for Slack tokens). Problems name the variable.
 */
export function readEnv<K extends Key>(
  raw: NodeJS.ProcessEnv,
  keys: readonly K[],
): { ok: true; env: Pick<Env, K> } | { ok: false; problems: string[] } {
  const values: Partial<Record<K, unknown>> = {};
  const problems: string[] = [];
  for (const key of keys) {
    const input = raw[key] === '' ? undefined : raw[key];
    const result = envSchema.shape[key].safeParse(input);
    if (result.success) values[key] = result.data;
    else problems.push(`${key} ${result.error.issues[0]?.message ?? 'is not valid'}`);
  }
  return problems.length ? { ok: false, problems } : { ok: true, env: values as Pick<Env, K> };
}

/** The variables that say which Redis, and with which prefix (SPEC §5). */
export const REDIS_ENV = [
  'REDIS_URL',
  'REDIS_SENTINELS',
  'REDIS_SENTINEL_MASTER',
  'REDIS_CLUSTER_NODES',
  'REDIS_USERNAME',
  'REDIS_PASSWORD',
  'REDIS_TLS',
  'BACKOUT_PREFIX',
] as const;

/** Topology and prefix for a CLI command, with the same rules as the server. */
export function cliRedisSetup(
  raw: NodeJS.ProcessEnv,
  env: Pick<Env, (typeof REDIS_ENV)[number]>,
): { ok: true; setup: RedisSetup } | { ok: false; problems: string[] } {
  return redisSetup(env, raw.REDIS_URL !== undefined && raw.REDIS_URL !== '');
}

/** A Redis connection for a one-shot command: fails fast instead of retrying forever. */
export async function connectRedis(url: string, timeoutMs = 3_000): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    protocol: 2,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(
      `cannot reach Redis at ${redactUrl(url)}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  return redis;
}

/** A URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The password in a URL (for redaction), or undefined. */
export function urlPassword(url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password === '' ? undefined : password;
  } catch {
    return undefined;
  }
}
