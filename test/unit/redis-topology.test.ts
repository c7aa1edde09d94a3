import { describe, expect, it } from 'vitest';
import { parseEnv } from '../../src/config/env.js';
import { createLogger } from '../../src/observability/logger.js';
import { backoffDelay } from '../../src/redis/client.js';
import { effectivePrefix } from '../../src/redis/prefix.js';
import { RepeatLog } from '../../src/redis/repeat-log.js';
import { Writable } from 'node:stream';

const base = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' };

describe('which Redis, from the environment (SPEC §5)', () => {
  it.each([
    [{}, { kind: 'standalone', url: 'redis://127.0.0.1:6379' }, 'backout'],
    [
      { REDIS_URL: 'rediss://:pw@redis.internal:6380' },
      { kind: 'standalone', url: 'rediss://:pw@redis.internal:6380' },
      'backout',
    ],
    [
      {
        REDIS_SENTINELS: 's1:26379, s2:26379,[::1]:26380',
        REDIS_SENTINEL_MASTER: 'mymaster',
        REDIS_PASSWORD: 'pw',
        REDIS_TLS: 'yes',
      },
      {
        kind: 'sentinel',
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26379 },
          { host: '::1', port: 26380 },
        ],
        master: 'mymaster',
        password: 'pw',
        tls: true,
      },
      'backout',
    ],
    [
      { REDIS_CLUSTER_NODES: 'c1:7000,c2:7001', REDIS_USERNAME: 'backout', BACKOUT_PREFIX: 'acme' },
      {
        kind: 'cluster',
        nodes: [
          { host: 'c1', port: 7000 },
          { host: 'c2', port: 7001 },
        ],
        username: 'backout',
        tls: false,
      },
      '{acme}',
    ],
    [{ REDIS_CLUSTER_NODES: 'c1:7000', BACKOUT_PREFIX: 'acme{bo}' }, { kind: 'cluster' }, 'acme{bo}'],
  ])('%j → topology and prefix', (vars, topology, prefix) => {
    const parsed = parseEnv({ ...base, ...vars });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    expect(parsed.env.redis.topology).toMatchObject(topology);
    expect(parsed.env.redis.prefix).toBe(prefix);
  });

  it.each([
    [
      { REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'c1:7000' },
      /REDIS_URL and REDIS_CLUSTER_NODES are both set: name one Redis/,
    ],
    [
      { REDIS_SENTINELS: 's1:26379', REDIS_CLUSTER_NODES: 'c1:7000', REDIS_SENTINEL_MASTER: 'm' },
      /REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set/,
    ],
    [{ REDIS_SENTINELS: 's1:26379' }, /REDIS_SENTINELS is set without REDIS_SENTINEL_MASTER/],
    [{ REDIS_SENTINEL_MASTER: 'm' }, /REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS/],
    [{ REDIS_CLUSTER_NODES: 'c1' }, /REDIS_CLUSTER_NODES has "c1": each entry must be host:port/],
    [{ REDIS_CLUSTER_NODES: 'c1:99999' }, /REDIS_CLUSTER_NODES has "c1:99999"/],
    [{ REDIS_CLUSTER_NODES: ' , ' }, /REDIS_CLUSTER_NODES lists no node/],
    [
      { REDIS_PASSWORD: 'pw' },
      /REDIS_PASSWORD apply to Sentinel and Cluster only: a REDIS_URL carries its own/,
    ],
    [
      { REDIS_CLUSTER_NODES: 'c1:7000', REDIS_TLS: 'maybe' },
      /REDIS_TLS must be 1\/true\/yes\/on or 0\/false\/no\/off/,
    ],
    [
      { REDIS_CLUSTER_NODES: 'c1:7000', BACKOUT_PREFIX: 'a{}b' },
      /BACKOUT_PREFIX "a\{\}b" has braces that do not form a hash tag/,
    ],
    [{ REDIS_CLUSTER_NODES: 'c1:7000', BACKOUT_PREFIX: 'a{b' }, /has braces that do not form a hash tag/],
  ])('%j is refused with a clear message', (vars, message) => {
    const parsed = parseEnv({ ...base, ...vars });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problems.join('\n')).toMatch(message);
  });

  it('a prefix is wrapped only on Cluster, and only when it has no hash tag', () => {
    expect(effectivePrefix('backout', false)).toEqual({
      ok: true,
      prefix: 'backout',
      changed: false,
      slotSafe: false,
    });
    expect(effectivePrefix('backout', true)).toEqual({
      ok: true,
      prefix: '{backout}',
      changed: true,
      slotSafe: true,
    });
    expect(effectivePrefix('{backout}', true)).toEqual({
      ok: true,
      prefix: '{backout}',
      changed: false,
      slotSafe: true,
    });
  });
});

describe('error storms', () => {
  it('backoff is capped and jittered within [cap/2, cap]', () => {
    expect(backoffDelay(1, 100, 2_000, () => 0)).toBe(50);
    expect(backoffDelay(1, 100, 2_000, () => 1)).toBe(100);
    // Attempt 5 is still below the cap: its ceiling is 100 × 2⁴ = 1,600 ms.
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(5, 100, 2_000);
      expect(d).toBeGreaterThanOrEqual(800);
      expect(d).toBeLessThanOrEqual(1_600);
    }
    for (const attempt of [6, 50, 1_000]) {
      const d = backoffDelay(attempt, 100, 2_000);
      expect(d).toBeGreaterThanOrEqual(1_000);
      expect(d).toBeLessThanOrEqual(2_000);
    }
  });

  it('100,000 repeats of one error make one line and one summary with the count', () => {
    const lines: { msg: string; repeated?: number }[] = [];
    const log = createLogger({
      level: 'info',
      secrets: [],
      destination: new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(JSON.parse(chunk.toString()) as { msg: string; repeated?: number });
          cb();
        },
      }),
    });
    const repeats = new RepeatLog(log, 60_000);
    for (let i = 0; i < 100_000; i++)
      repeats.warn({ queue: 'jobs', err: `MOVED ${i % 16384} 127.0.0.1:${7000 + (i % 3)}` }, 'worker error');
    repeats.warn(
      { queue: 'jobs', err: 'CROSSSLOT Keys in request do not hash to the same slot' },
      'worker error',
    );
    repeats.close();
    expect(lines.map((l) => l.msg)).toEqual([
      'worker error',
      'worker error',
      'worker error (repeated 99999 times in the last 60s)',
    ]);
    expect(lines[2]?.repeated).toBe(99_999);
  });
});
