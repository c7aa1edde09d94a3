import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeprecationRegistry } from '../../src/api-retirement/registry.js';
import { redisChecks } from '../../src/doctor/redis.js';
import { TIMERS_QUEUE } from '../../src/queue/job-definition.js';
import { connectOnce } from '../../src/redis/connect-once.js';
import { TargetLocks } from '../../src/requests/target-lock.js';
import { makeEntry } from '../api-retirement/fixtures.js';
import { parseDeprecationHeader, parseSunsetHeader } from '../api-retirement/http-parse.js';
import { startProxyProcess, startPythonUpstream } from '../api-retirement/proxy-kit.js';
import { sweepNow } from '../kit/flows.js';
import { startCluster, type RedisSet } from '../kit/redis-servers.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { approvedRollback, expectAuditChain, readyStatus } from './redis-ha-kit.js';

/** The replica serving `slot`, and its master, from CLUSTER NODES. */
async function slotOwners(cluster: RedisSet, slot: number): Promise<{ master: number; replica: number }> {
  const c = cluster.client(cluster.nodes[0]!.port);
  try {
    const lines = String(await c.cluster('NODES'))
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    const port = (addr: string) => Number(addr.split('@')[0]!.split(':')[1]);
    const owner = lines.find(
      (l) =>
        l[2]!.includes('master') &&
        l.slice(8).some((range) => {
          const [from, to = from] = range.split('-').map(Number);
          return slot >= from! && slot <= to!;
        }),
    );
    const replica = lines.find((l) => l[3] === owner?.[0]);
    if (!owner || !replica) throw new Error(`no master with a replica for slot ${slot}`);
    return { master: port(owner[1]!), replica: port(replica[1]!) };
  } finally {
    c.disconnect();
  }
}

describe('on a Redis Cluster (3 masters, 3 replicas)', () => {
  let cluster: RedisSet;
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    cluster = await startCluster(3);
    const seeds = cluster.nodes
      .slice(0, 2)
      .map((n) => `127.0.0.1:${n.port}`)
      .join(',');
    world = await createWorld({
      redis: {
        env: { REDIS_CLUSTER_NODES: seeds },
        client: () =>
          new Cluster(
            cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
            { redisOptions: { maxRetriesPerRequest: 3 } },
          ),
      },
    });
    bot = await world.start();
  }, 60_000);
  afterAll(async () => {
    await world?.close();
    await cluster?.stop();
  });

  it('uses the prefix hash-tagged, says so at start-up, and is ready', async () => {
    expect(world.prefix).toBe(`{${world.rawEnv.BACKOUT_PREFIX}}`);
    const notes = bot.logs.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(notes).toContain(
      `Redis Cluster: BACKOUT_PREFIX "${world.rawEnv.BACKOUT_PREFIX}" is used as "${world.prefix}" so that every key is in one slot; set BACKOUT_PREFIX=${world.prefix} to say so yourself`,
    );
    await waitFor(async () => (await readyStatus(bot)) === 200, { what: 'readiness on the cluster' });
  });

  it("doctor names the topology, the role of each node, each master's settings and the prefix's slot", async () => {
    const { topology, prefix } = world.env.redis;
    const results = await redisChecks({ topology, prefix, connect: () => connectOnce(topology) });
    const line = (name: string) => results.find((r) => r.name === name);
    expect(line('topology')?.status).toBe('ok');
    expect(line('topology')?.message).toMatch(
      /^Cluster: 3 masters, 3 replicas; cluster_state ok, 16384 of 16384 slots assigned/,
    );
    const nodes = results.filter((r) => r.name.startsWith('node '));
    expect(nodes).toHaveLength(6);
    expect(nodes.filter((r) => /^master \(slots/.test(r.message))).toHaveLength(3);
    expect(nodes.filter((r) => /^replica of 127\.0\.0\.1:\d+/.test(r.message))).toHaveLength(3);
    expect(nodes.filter((r) => /holds backout's slot \d+/.test(r.message))).toHaveLength(1);
    expect(results.filter((r) => r.name.startsWith('maxmemory-policy '))).toHaveLength(3);
    expect(results.filter((r) => r.name.startsWith('persistence ')).every((r) => r.status === 'warn')).toBe(
      true,
    );
    expect(line('prefix')).toMatchObject({
      status: 'ok',
      message: `${prefix} is slot-safe: every key carries the hash tag ${prefix}`,
    });
  });

  it('pointed at one Cluster node with REDIS_URL, it is not ready, answers "queue unavailable" and logs a few lines, not a storm', async () => {
    const wrong = await world.start({
      REDIS_URL: `redis://127.0.0.1:${cluster.nodes[0]!.port}`,
      REDIS_CLUSTER_NODES: '',
    });
    try {
      const started = Date.now();
      await waitFor(() => wrong.logs.some((l) => l.includes('redis failed the readiness probe')), {
        what: 'the probe to fail',
      });
      expect(await readyStatus(wrong)).toBe(503);
      const probeLine = wrong.logs.find((l) => l.includes('redis failed the readiness probe'))!;
      expect(probeLine).toMatch(/set REDIS_CLUSTER_NODES \(seed nodes\) instead of REDIS_URL/);
      const during = await wrong.client.command({
        command: '/rollback',
        text: 'checkout-api --reason "wrong node"',
        user_id: PEOPLE.requester,
        channel_id: PEOPLE.checkout,
      });
      expect((during.json as { text: string }).text).toMatch(/queue is unavailable.*nothing was changed/i);
      // Let the workers' fetch loops run into MOVED/CROSSSLOT for a few seconds.
      await waitFor(() => Date.now() - started > 4_000, {
        what: 'four seconds of errors',
        timeoutMs: 10_000,
      });
      const lines = wrong.logs.filter((l) => /"level":"(warn|error)"/.test(l));
      expect(lines.length).toBeLessThan(40);
    } finally {
      await wrong.stop();
    }
  });

  it('backout proxy reads its registry through the Cluster (REDIS_CLUSTER_NODES) and serves its headers', async () => {
    const prefix = `{bo-proxy-${Date.now().toString(36)}}`;
    const client = new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
    const now = Math.floor(Date.now() / 1000) * 1000; // the headers carry whole seconds
    const entry = makeEntry({
      deprecatedAt: new Date(now - 10 * 86_400_000).toISOString(),
      sunset: new Date(now + 10 * 86_400_000).toISOString(),
    });
    await new DeprecationRegistry(client, prefix).put(entry);
    const upstream = await startPythonUpstream();
    const seeds = cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
    try {
      const proxy = await startProxyProcess(['--service', 'checkout', '--upstream', upstream.url], {
        REDIS_URL: '',
        REDIS_CLUSTER_NODES: seeds,
        BACKOUT_PREFIX: prefix,
      });
      try {
        const res = await fetch(`${proxy.url}/v1/orders/7`);
        expect(res.status).toBe(200);
        expect(parseDeprecationHeader(res.headers.get('deprecation')!)).toBe(Date.parse(entry.deprecatedAt));
        expect(parseSunsetHeader(res.headers.get('sunset')!)).toBe(Date.parse(entry.sunset));
      } finally {
        await proxy.stop();
      }
    } finally {
      await upstream.stop();
      const keys = await client.keys(`${prefix}*`);
      if (keys.length) await client.del(...keys);
      client.disconnect();
    }
  });

  it('runs a full approved rollback', async () => {
    await approvedRollback(world, bot, 0);
    await expectAuditChain(world, 1);
  });

  it('the sweep finds every target lock on the Cluster, whichever node the client picks, and frees an orphaned one', async () => {
    const locks = new TargetLocks(world.redis, world.prefix);
    const targets = ['ledger/production', 'ledger/staging', 'search/production'];
    // One left by a version without the lock index (the key alone), the others taken as backout does.
    await world.redis.set(`${world.prefix}:target:${targets[0]}`, 'rb-vanished', 'EX', 600);
    for (const t of targets.slice(1)) {
      expect(await locks.acquire(t, 'rb-vanished')).toEqual({ ok: true });
      // Taken over a minute ago (a fresher lock of a request not stored yet is one being filed).
      await world.redis.pexpire(`${world.prefix}:target:${t}`, 6 * 3_600_000 - 61_000);
    }
    // The first walk of a process also walks the keyspace, for locks without an index entry: a
    // bare SCAN through a Cluster client reached one node, picked anew per call, and missed them.
    // Every walk, from fresh instances too, must find all of them.
    for (let walk = 0; walk < 12; walk++) {
      const from = walk % 3 === 0 ? new TargetLocks(world.redis, world.prefix) : locks;
      const held = (await from.held()).filter((h) => targets.includes(h.target));
      expect(held.map((h) => h.target).sort()).toEqual([...targets].sort());
    }
    const timers = new Queue(TIMERS_QUEUE, { connection: world.redis, prefix: world.prefix });
    try {
      await sweepNow(timers);
    } finally {
      await timers.close();
    }
    for (const t of targets) expect(await world.redis.get(`${world.prefix}:target:${t}`)).toBeNull();
  });

  it('finishes a rollback exactly once across a master failover triggered after the approval', async () => {
    const tag = world.prefix.slice(1, -1);
    const probe = cluster.client(cluster.nodes[0]!.port);
    const slot = Number(await probe.cluster('KEYSLOT', tag));
    probe.disconnect();
    const { master, replica } = await slotOwners(cluster, slot);

    await approvedRollback(world, bot, 1, async () => {
      const r = cluster.client(replica);
      try {
        expect(await r.cluster('FAILOVER')).toBe('OK');
        await waitFor(async () => /role:master/.test(await r.info('replication')), {
          what: `replica ${replica} to take over slot ${slot} from ${master}`,
          timeoutMs: 20_000,
        });
      } finally {
        r.disconnect();
      }
    });
    expect((await slotOwners(cluster, slot)).master).toBe(replica);
    await expectAuditChain(world, 2);
    await waitFor(async () => (await readyStatus(bot)) === 200, { what: 'readiness after the failover' });
    // Errors during the switch are logged once per kind with a count, not once per retry.
    const warnings = bot.logs.filter((l) => /"level":"(warn|error)"/.test(l));
    expect(warnings.length).toBeLessThan(40);
  }, 90_000);
});
