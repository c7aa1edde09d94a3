import type { Redis } from 'ioredis';
import type { RedisClient } from '../redis/client.js';
import { prefixHashTag } from '../redis/prefix.js';
import { describeTopology, type RedisTopology } from '../redis/topology.js';
import { fail, messageOf, ok, warn, withTimeout, type CheckResult } from './check.js';
import { topologyChecks } from './redis-topology.js';

const TIMEOUT_MS = 5_000;

export interface RedisTarget {
  topology: RedisTopology;
  /** The prefix backout uses there (hash-tagged on Cluster). */
  prefix: string;
  connect: () => Promise<RedisClient>;
}

/**
 * Redis: which topology answers and the role of each node; on each master a version
 * BullMQ supports, `maxmemory-policy noeviction` (an evicting Redis silently drops queued
 * jobs, locks and approvals) and persistence (a restart without it loses every pending
 * request); and whether the prefix keeps every key in one slot. Managed Redis often disables
 * CONFIG: then the policy is read from INFO and the rest is left to the operator, and doctor
 * says so.
 */
export async function redisChecks(target: RedisTarget): Promise<CheckResult[]> {
  const where = describeTopology(target.topology);
  const setting =
    target.topology.kind === 'standalone'
      ? 'REDIS_URL'
      : target.topology.kind === 'sentinel'
        ? 'REDIS_SENTINELS / REDIS_SENTINEL_MASTER'
        : 'REDIS_CLUSTER_NODES';
  let client: RedisClient;
  try {
    client = await target.connect();
  } catch (err) {
    return [
      fail(
        'redis',
        'connection',
        messageOf(err),
        `check ${setting} (host, port; REDIS_USERNAME / REDIS_PASSWORD / REDIS_TLS, or the URL's password and rediss:// for TLS) and that Redis accepts connections from here`,
      ),
    ];
  }
  try {
    const topo = await topologyChecks(client, target.topology, target.prefix, where);
    const out: CheckResult[] = [...topo.checks];
    const many = topo.masters.length > 1 || target.topology.kind !== 'standalone';
    for (const m of topo.masters) out.push(...(await nodeChecks(m.redis, m.name, many ? ` ${m.name}` : '')));
    if (target.topology.kind === 'cluster') {
      out.push(
        prefixHashTag(target.prefix) !== undefined
          ? ok(
              'redis',
              'prefix',
              `${target.prefix} is slot-safe: every key carries the hash tag {${prefixHashTag(target.prefix)}}`,
            )
          : fail(
              'redis',
              'prefix',
              `${target.prefix} has no hash tag: multi-key scripts would fail with CROSSSLOT`,
              'set BACKOUT_PREFIX to a hash tag such as {backout}',
            ),
      );
    } else {
      out.push(
        ok('redis', 'prefix', `${target.prefix} (one server holds every key: slot-safe by construction)`),
      );
    }
    return out;
  } catch (err) {
    return [
      fail('redis', 'connection', messageOf(err), `check that Redis is healthy and ${setting} points at it`),
    ];
  } finally {
    client.disconnect();
  }
}

/** Version, eviction policy and persistence of one master. */
async function nodeChecks(redis: Redis, where: string, suffix: string): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  await withTimeout(redis.ping(), TIMEOUT_MS, 'Redis PING');
  const server = parseInfo(await withTimeout(redis.info('server'), TIMEOUT_MS, 'Redis INFO'));
  const version = server.redis_version ?? 'unknown';
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < 5) {
    out.push(
      fail(
        'redis',
        `connection${suffix}`,
        `${where} answers, but runs Redis ${version}`,
        'BullMQ needs Redis 5 or newer (6.2+ recommended); upgrade Redis',
      ),
    );
  } else if (major === 5 || (major === 6 && minor < 2)) {
    out.push(
      warn(
        'redis',
        `connection${suffix}`,
        `${where} answers (Redis ${version})`,
        'upgrade to Redis 6.2 or newer: `backout audit archive` trims the stream with XTRIM MINID',
      ),
    );
  } else {
    out.push(ok('redis', `connection${suffix}`, `${where} answers PING (Redis ${version})`));
  }

  const policy = await configGet(redis, 'maxmemory-policy');
  let effectivePolicy = policy.value;
  if (!policy.ok) {
    effectivePolicy = parseInfo(
      await withTimeout(redis.info('memory'), TIMEOUT_MS, 'Redis INFO'),
    ).maxmemory_policy;
  }
  if (effectivePolicy === 'noeviction') {
    out.push(
      ok(
        'redis',
        `maxmemory-policy${suffix}`,
        `noeviction${policy.ok ? '' : ' (read from INFO: CONFIG is disabled)'}`,
      ),
    );
  } else if (effectivePolicy === undefined) {
    out.push(
      warn(
        'redis',
        `maxmemory-policy${suffix}`,
        `cannot read it: CONFIG is not available (${policy.error}), as on many managed Redis services`,
        "make sure the provider's parameter group sets maxmemory-policy to noeviction",
      ),
    );
  } else {
    out.push(
      fail(
        'redis',
        `maxmemory-policy${suffix}`,
        `${effectivePolicy}: under memory pressure Redis will evict queued jobs, target locks and pending approvals`,
        `set maxmemory-policy noeviction (redis.conf, or CONFIG SET maxmemory-policy noeviction plus CONFIG REWRITE; on managed Redis, the parameter group)`,
      ),
    );
  }

  const aof = await configGet(redis, 'appendonly');
  const save = await configGet(redis, 'save');
  if (!aof.ok || !save.ok) {
    const info = parseInfo(await withTimeout(redis.info('persistence'), TIMEOUT_MS, 'Redis INFO'));
    out.push(
      info.aof_enabled === '1'
        ? ok('redis', `persistence${suffix}`, 'append-only file on (read from INFO: CONFIG is disabled)')
        : warn(
            'redis',
            `persistence${suffix}`,
            `cannot read the snapshot settings: CONFIG is not available (${aof.error ?? save.error}), and the append-only file is off`,
            "check in the provider's console that persistence (AOF or snapshots) is on",
          ),
    );
  } else if (aof.value === 'yes') {
    out.push(ok('redis', `persistence${suffix}`, 'append-only file on'));
  } else if (save.value && save.value.trim() !== '') {
    out.push(
      warn(
        'redis',
        `persistence${suffix}`,
        `snapshots only (save "${save.value}"): a crash loses the writes since the last snapshot`,
        'turn on the append-only file: appendonly yes, appendfsync everysec',
      ),
    );
  } else {
    out.push(
      warn(
        'redis',
        `persistence${suffix}`,
        'off (appendonly no, no save points): a Redis restart loses queued jobs, pending approvals and the audit stream (the JSON-lines file keeps the audit)',
        'turn on the append-only file: appendonly yes, appendfsync everysec (redis.conf, or CONFIG SET plus CONFIG REWRITE)',
      ),
    );
  }
  return out;
}

async function configGet(
  redis: Redis,
  key: string,
): Promise<
  { ok: true; value: string | undefined; error?: undefined } | { ok: false; value?: undefined; error: string }
> {
  try {
    const reply = await withTimeout<unknown>(redis.config('GET', key), TIMEOUT_MS, 'Redis CONFIG GET');
    return { ok: true, value: Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : undefined };
  } catch (err) {
    return { ok: false, error: messageOf(err) };
  }
}

function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}
