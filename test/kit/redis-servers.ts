import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from './wait.js';

/**
 * Real Redis topologies for tests, from the machine's `redis-server` (Sentinels run as
 * `redis-server <conf> --sentinel`, which is what `redis-sentinel` is): each on free ports,
 * in its own temporary directory, killed and removed by `stop()`.
 */
export interface RedisNode {
  port: number;
  proc: ChildProcess;
}

export interface RedisSet {
  dir: string;
  nodes: RedisNode[];
  /** One-shot client to a node (closed by the caller). */
  client(port: number): Redis;
  stop(): Promise<void>;
}

/** A port whose cluster bus port (port + 10000) is free too. */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await canListen(port)) && (await canListen(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a Redis node');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function startProcess(dir: string, args: string[], port: number): Promise<RedisNode> {
  const proc = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const ping = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
  ping.on('error', () => undefined);
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`redis-server on ${port} exited: ${stderr}`);
        if (ping.status !== 'ready') await ping.connect().catch(() => ping.disconnect());
        return (await ping.ping()) === 'PONG';
      },
      { what: `redis-server on port ${port}`, timeoutMs: 10_000, intervalMs: 50 },
    );
  } finally {
    ping.disconnect();
  }
  return { port, proc };
}

const DATA_ARGS = (port: number) => [
  '--port',
  String(port),
  '--bind',
  '127.0.0.1',
  '--save',
  '',
  '--appendonly',
  'no',
  '--maxmemory-policy',
  'noeviction',
  '--dbfilename',
  `dump-${port}.rdb`,
];

function redisSet(dir: string, nodes: RedisNode[]): RedisSet {
  return {
    dir,
    nodes,
    client: (port) => new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 }),
    async stop() {
      for (const n of nodes) if (n.proc.exitCode === null) n.proc.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis Cluster of `masters` masters with one replica each, all slots covered and agreed. */
export async function startCluster(masters = 3): Promise<RedisSet> {
  const dir = await mkdtemp(join(tmpdir(), 'backout-cluster-'));
  const nodes: RedisNode[] = [];
  const set = redisSet(dir, nodes);
  try {
    for (let i = 0; i < masters * 2; i++) {
      const port = await freePortPair();
      nodes.push(
        await startProcess(
          dir,
          [
            ...DATA_ARGS(port),
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--cluster-node-timeout',
            '2000',
          ],
          port,
        ),
      );
    }
    const create = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0)
      throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    await waitFor(
      async () => {
        for (const n of nodes) {
          const c = set.client(n.port);
          try {
            const info = String(await c.cluster('INFO'));
            if (!/cluster_state:ok/.test(info)) return false;
            // Every node must know every other before clients can rely on the slot map.
            const known = String(await c.cluster('NODES'))
              .trim()
              .split('\n').length;
            if (known < nodes.length) return false;
          } finally {
            c.disconnect();
          }
        }
        // Replicas must have synced so that a failover has something to promote.
        for (const n of nodes) {
          const c = set.client(n.port);
          try {
            const repl = await c.info('replication');
            if (/role:slave/.test(repl) && !/master_link_status:up/.test(repl)) return false;
          } finally {
            c.disconnect();
          }
        }
        return true;
      },
      { what: 'the cluster to agree on its slots', timeoutMs: 20_000, intervalMs: 200 },
    );
    return set;
  } catch (err) {
    await set.stop();
    throw err;
  }
}

export interface SentinelSet extends RedisSet {
  masterName: string;
  sentinelPorts: number[];
  /** The port of the current master, as the sentinels see it. */
  masterPort(): Promise<number>;
}

/** A master, one replica and three Sentinels watching them (quorum 2). */
export async function startSentinels(masterName = 'backout-test'): Promise<SentinelSet> {
  const dir = await mkdtemp(join(tmpdir(), 'backout-sentinel-'));
  const nodes: RedisNode[] = [];
  const base = redisSet(dir, nodes);
  try {
    const masterPort = await freePortPair();
    nodes.push(await startProcess(dir, DATA_ARGS(masterPort), masterPort));
    const replicaPort = await freePortPair();
    nodes.push(
      await startProcess(
        dir,
        [...DATA_ARGS(replicaPort), '--replicaof', '127.0.0.1', String(masterPort)],
        replicaPort,
      ),
    );
    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePortPair();
      const conf = join(dir, `sentinel-${port}.conf`);
      await writeFile(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      nodes.push(await startProcess(dir, [conf, '--sentinel'], port));
      sentinelPorts.push(port);
    }
    const set: SentinelSet = {
      ...base,
      masterName,
      sentinelPorts,
      async masterPort() {
        const c = base.client(sentinelPorts[0]!);
        try {
          const [, port] = (await c.call('SENTINEL', 'get-master-addr-by-name', masterName)) as [
            string,
            string,
          ];
          return Number(port);
        } finally {
          c.disconnect();
        }
      },
    };
    // Ready when every sentinel knows the replica and the other sentinels (a failover needs both).
    await waitFor(
      async () => {
        for (const port of sentinelPorts) {
          const c = base.client(port);
          try {
            const replicas = (await c.call('SENTINEL', 'replicas', masterName)) as string[][];
            const peers = (await c.call('SENTINEL', 'sentinels', masterName)) as unknown[];
            const up = replicas.some((r) => {
              const flags = r[r.indexOf('flags') + 1] ?? '';
              return flags === 'slave';
            });
            if (!up || peers.length < 2) return false;
          } finally {
            c.disconnect();
          }
        }
        return true;
      },
      { what: 'the sentinels to know the replica and each other', timeoutMs: 20_000, intervalMs: 200 },
    );
    return set;
  } catch (err) {
    await base.stop();
    throw err;
  }
}
