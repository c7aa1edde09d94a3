import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './client.js';

/**
 * Durability across a failover. Redis replicates asynchronously: a write the master
 * acknowledged may not have reached the replica that Sentinel or Cluster promotes, and then
 * it is gone — an approval, a checkpoint, an audit record, an outbox entry. So on Sentinel
 * and Cluster every write on backout's command and worker connections is held back until
 * `WAIT 1` confirms that a replica has it; a write no replica confirms in time fails with
 * NOREPLICAS (a command answers "queue unavailable", a job step is retried), and nothing
 * proceeds on a write that a failover could undo.
 *
 * One WAIT covers every write answered before it was sent, so concurrent writes share one.
 */

// Commands that change nothing (or whose loss is harmless, like the blocking marker pops):
// everything else is treated as a write.
const NO_ACK = new Set(
  (
    'get mget hget hgetall hmget hexists hkeys hvals hlen hstrlen exists xrange xrevrange xread xlen xinfo ' +
    'zrange zrangebyscore zrevrange zrevrangebyscore zrangebylex zscore zcard zcount zrank zrevrank zmscore ' +
    'scan sscan hscan zscan type ttl pttl info ping echo config client cluster wait publish subscribe ' +
    'unsubscribe psubscribe punsubscribe ssubscribe sunsubscribe smembers sismember smismember scard llen ' +
    'lrange lindex lpos strlen getrange keys time eval_ro evalsha_ro fcall_ro script select auth hello ' +
    'readonly readwrite memory dbsize command object role multi watch unwatch discard quit ' +
    'bzpopmin bzpopmax brpoplpush blmove blpop brpop xreadgroup sentinel'
  ).split(' '),
);

interface PendingCommand {
  name: string;
  inTransaction?: boolean;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

type Batch = { resolve: () => void; reject: (err: Error) => void }[];

export interface ReplicaAckOptions {
  /** How long a write may wait for a replica (WAIT's timeout). */
  timeoutMs: number;
  replicas?: number;
}

/** Installs the replica acknowledgement on a connection (and, on Cluster, on every node it opens). */
export function requireReplicaAck(client: RedisClient, opts: ReplicaAckOptions): void {
  if (client instanceof Cluster) {
    client.on('+node', (node: Redis) => install(node, opts));
    for (const node of client.nodes('all')) install(node, opts);
  } else install(client, opts);
}

const installed = new WeakSet<Redis>();

function install(redis: Redis, opts: ReplicaAckOptions): void {
  if (installed.has(redis)) return;
  installed.add(redis);
  const replicas = opts.replicas ?? 1;
  let inFlight = false;
  let next: Batch = [];

  const flush = () => {
    if (inFlight || next.length === 0) return;
    const batch = next;
    next = [];
    inFlight = true;
    redis.call('WAIT', replicas, opts.timeoutMs).then(
      (acked) => {
        inFlight = false;
        if (Number(acked) >= replicas) for (const w of batch) w.resolve();
        else {
          const err = new Error(
            `NOREPLICAS the write was not confirmed by a replica within ${opts.timeoutMs} ms (a failover may be under way); it may be lost`,
          );
          for (const w of batch) w.reject(err);
        }
        flush();
      },
      (err: Error) => {
        inFlight = false;
        // E.g. "WAIT cannot be used with replica instances": this node was just demoted.
        const failed = new Error(`NOREPLICAS the write could not be confirmed by a replica: ${err.message}`, {
          cause: err,
        });
        for (const w of batch) w.reject(failed);
        flush();
      },
    );
  };

  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (command: PendingCommand, ...rest: unknown[]) => {
    const name = command.name.toLowerCase();
    const needsAck = name === 'exec' || (!command.inTransaction && !NO_ACK.has(name));
    if (needsAck) {
      const resolve = command.resolve;
      const reject = command.reject;
      command.resolve = (value: unknown) => {
        next.push({ resolve: () => resolve(value), reject });
        flush();
      };
    }
    return (send as (...args: unknown[]) => unknown)(command, ...rest);
  };
}
