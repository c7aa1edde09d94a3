import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisChecks } from '../../src/doctor/redis.js';
import { connectOnce } from '../../src/redis/connect-once.js';
import { startSentinels, type SentinelSet } from '../kit/redis-servers.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, type RunningApp, type World } from '../kit/world.js';
import { approvedRollback, expectAuditChain, readyStatus } from './redis-ha-kit.js';

describe('on Redis Sentinel (a master, a replica, three sentinels)', () => {
  let set: SentinelSet;
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    set = await startSentinels();
    const sentinels = set.sentinelPorts.map((port) => `127.0.0.1:${port}`).join(',');
    world = await createWorld({
      redis: {
        env: { REDIS_SENTINELS: sentinels, REDIS_SENTINEL_MASTER: set.masterName },
        client: () =>
          new Redis({
            sentinels: set.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
            name: set.masterName,
            maxRetriesPerRequest: 3,
          }),
      },
    });
    bot = await world.start();
  }, 60_000);
  afterAll(async () => {
    await world?.close();
    await set?.stop();
  });

  it('finds the master through the sentinels and is ready', async () => {
    expect(world.prefix).toBe(world.rawEnv.BACKOUT_PREFIX);
    await waitFor(async () => (await readyStatus(bot)) === 200, { what: 'readiness through Sentinel' });
  });

  it("doctor names the topology, the master and its replica, and the master's settings", async () => {
    const { topology, prefix } = world.env.redis;
    const results = await redisChecks({ topology, prefix, connect: () => connectOnce(topology) });
    const master = await set.masterPort();
    const line = (name: string) => results.find((r) => r.name === name);
    expect(line('topology')?.status).toBe('ok');
    expect(line('topology')?.message).toContain(`master at 127.0.0.1:${master}, 1 replica`);
    expect(line(`node 127.0.0.1:${master}`)?.message).toBe('master');
    const replica = set.nodes.find((n) => n.port !== master && !set.sentinelPorts.includes(n.port))!;
    expect(line(`node 127.0.0.1:${replica.port}`)?.message).toMatch(/^replica of 127\.0\.0\.1:\d+ \(online/);
    expect(line(`maxmemory-policy 127.0.0.1:${master}`)).toMatchObject({
      status: 'ok',
      message: 'noeviction',
    });
    expect(line(`persistence 127.0.0.1:${master}`)?.status).toBe('warn');
  });

  it('runs a full approved rollback', async () => {
    await approvedRollback(world, bot, 0);
    await expectAuditChain(world, 1);
  });

  it('finishes a rollback exactly once across a failover triggered after the approval', async () => {
    const before = await set.masterPort();
    await approvedRollback(world, bot, 1, async () => {
      const sentinel = set.client(set.sentinelPorts[0]!);
      try {
        expect(await sentinel.call('SENTINEL', 'FAILOVER', set.masterName)).toBe('OK');
      } finally {
        sentinel.disconnect();
      }
      await waitFor(async () => (await set.masterPort()) !== before, {
        what: 'the sentinels to promote the replica',
        timeoutMs: 20_000,
      });
    });
    expect(await set.masterPort()).not.toBe(before);
    await expectAuditChain(world, 2);
    await waitFor(async () => (await readyStatus(bot)) === 200, { what: 'readiness after the failover' });
    const warnings = bot.logs.filter((l) => /"level":"(warn|error)"/.test(l));
    expect(warnings.length).toBeLessThan(40);
  }, 90_000);
});
