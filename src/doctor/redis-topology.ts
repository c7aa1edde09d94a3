import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from '../redis/client.js';
import { prefixHashTag } from '../redis/prefix.js';
import type { RedisTopology } from '../redis/topology.js';
import { fail, ok, warn, withTimeout, type CheckResult } from './check.js';
import { plural } from '../text/plural.js';

const TIMEOUT_MS = 5_000;

export interface TopologyFindings {
  checks: CheckResult[];
  /** The masters, for the per-server checks (policy, persistence). */
  masters: { name: string; redis: Redis }[];
}

/** What answers, and the role of each node: the one server, the Sentinel master and its replicas, or every Cluster node. */
export async function topologyChecks(
  client: RedisClient,
  topology: RedisTopology,
  prefix: string,
  where: string,
): Promise<TopologyFindings> {
  if (client instanceof Cluster) return clusterFindings(client, prefix);
  const replication = parseInfo(await withTimeout(client.info('replication'), TIMEOUT_MS, 'Redis INFO'));
  if (topology.kind === 'standalone') {
    const cluster = parseInfo(await withTimeout(client.info('cluster'), TIMEOUT_MS, 'Redis INFO'));
    if (cluster.cluster_enabled === '1') {
      return {
        checks: [
          fail(
            'redis',
            'topology',
            `${where} is a Redis Cluster node: a single-server connection gets MOVED and CROSSSLOT for keys on other nodes`,
            'set REDIS_CLUSTER_NODES=host:port,host:port (seed nodes) instead of REDIS_URL',
          ),
        ],
        masters: [],
      };
    }
    if (replication.role === 'slave') {
      return {
        checks: [
          fail(
            'redis',
            'topology',
            `${where} is a replica (of ${replication.master_host}:${replication.master_port}): every write answers READONLY`,
            'point REDIS_URL at the master, or use REDIS_SENTINELS + REDIS_SENTINEL_MASTER',
          ),
        ],
        masters: [],
      };
    }
    return {
      checks: [ok('redis', 'topology', `standalone: one server at ${where} (no failover)`)],
      masters: [{ name: where, redis: client }],
    };
  }
  // Sentinel: the connection is to the master the sentinels named.
  const master = `${client.stream?.remoteAddress ?? '?'}:${client.stream?.remotePort ?? '?'}`;
  const replicas = Object.entries(replication)
    .filter(([k]) => /^slave\d+$/.test(k))
    .map(([, v]) => Object.fromEntries(v.split(',').map((kv) => kv.split('=') as [string, string])));
  const checks: CheckResult[] = [];
  if (replication.role !== 'master') {
    checks.push(
      fail(
        'redis',
        'topology',
        `the sentinels named ${master} as master "${topology.kind === 'sentinel' ? topology.master : ''}", but it reports role ${replication.role}`,
        'check the sentinels agree (SENTINEL get-master-addr-by-name) and that a failover is not stuck',
      ),
    );
  } else {
    checks.push(
      ok(
        'redis',
        'topology',
        `Sentinel: ${where}; master at ${master}, ${plural(replicas.length, 'replica')}`,
      ),
    );
  }
  checks.push(ok('redis', `node ${master}`, 'master'));
  for (const r of replicas) {
    checks.push(
      r.state === 'online'
        ? ok('redis', `node ${r.ip}:${r.port}`, `replica of ${master} (online, lag ${r.lag ?? '?'}s)`)
        : warn(
            'redis',
            `node ${r.ip}:${r.port}`,
            `replica of ${master}, state ${r.state}`,
            'check the replica link',
          ),
    );
  }
  if (replicas.length === 0) checks.push(noReplica(master));
  return { checks, masters: [{ name: master, redis: client }] };
}

function noReplica(master: string): CheckResult {
  return fail(
    'redis',
    'replicas',
    `${master} has no replica: a failover has nothing to promote, and backout holds each write until a replica confirms it (WAIT 1), so writes fail`,
    'add a replica (replicaof <master> <port>) for every master',
  );
}

async function clusterFindings(cluster: Cluster, prefix: string): Promise<TopologyFindings> {
  const [first] = cluster.nodes('master');
  if (!first) throw new Error('the cluster client knows no master');
  const info = parseInfo(String(await withTimeout(first.cluster('INFO'), TIMEOUT_MS, 'CLUSTER INFO')));
  const lines = String(await withTimeout(first.cluster('NODES'), TIMEOUT_MS, 'CLUSTER NODES'))
    .trim()
    .split('\n')
    .map((l) => l.split(' '));
  const nodes = lines.map((l) => ({
    id: l[0]!,
    addr: l[1]!.split('@')[0]!,
    master: l[2]!.includes('master'),
    failing: /fail/.test(l[2]!),
    masterId: l[3]!,
    slots: l.slice(8).filter((s) => /^\d/.test(s)),
  }));
  const masters = nodes.filter((n) => n.master);
  const checks: CheckResult[] = [];
  const state = `cluster_state ${info.cluster_state}, ${info.cluster_slots_assigned} of 16384 slots assigned`;
  checks.push(
    info.cluster_state === 'ok'
      ? ok(
          'redis',
          'topology',
          `Cluster: ${plural(masters.length, 'master')}, ${plural(nodes.length - masters.length, 'replica')}; ${state}`,
        )
      : fail('redis', 'topology', `Cluster: ${state}`, 'fix the cluster (redis-cli --cluster check <node>)'),
  );
  const tag = prefixHashTag(prefix);
  const slot = tag !== undefined ? Number(await first.cluster('KEYSLOT', tag)) : undefined;
  for (const n of nodes) {
    const owner = nodes.find((m) => m.id === n.masterId);
    const replicas = nodes.filter((r) => r.masterId === n.id);
    const holdsPrefix = slot !== undefined && n.slots.some((range) => inRange(range, slot));
    const text = n.master
      ? `master (slots ${n.slots.join(' ') || 'none'}), ${plural(replicas.length, 'replica')}${holdsPrefix ? `; holds backout's slot ${slot}` : ''}`
      : `replica of ${owner?.addr ?? n.masterId}`;
    checks.push(
      n.failing
        ? fail('redis', `node ${n.addr}`, `${text}; marked failing`, 'bring the node back or forget it')
        : ok('redis', `node ${n.addr}`, text),
    );
    if (n.master && n.slots.length > 0 && replicas.length === 0) checks.push(noReplica(n.addr));
  }
  return {
    checks,
    masters: cluster.nodes('master').map((redis) => ({
      name: `${redis.options.host ?? '?'}:${redis.options.port ?? '?'}`,
      redis,
    })),
  };
}

function inRange(range: string, slot: number): boolean {
  const [from, to = from] = range.split('-').map(Number);
  return slot >= from! && slot <= to!;
}

export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}
