/**
 * Figures 3 and 4: backout's own overhead per rollback, and its resident memory at idle and after
 * 1,000 rollbacks.
 *
 * Overhead = the job's wall time (BullMQ `finishedOn - processedOn`) minus the time the Kubernetes
 * double took to converge: from the arrival of backout's PATCH of the Deployment (the double's
 * request log) to the first stored Deployment status that is complete for the new generation
 * (observed through the double's change hook, at the instant it is written).
 */
import { join } from 'node:path';
import type { Job, Queue } from 'bullmq';
import type { RedisClient } from '../../src/redis/client.js';
import type { KubernetesDouble, StoreEvent } from '../doubles/kubernetes.js';
import type { SlackDouble } from '../doubles/slack.js';
import type { BotProcess } from '../kit/process.js';
import { waitFor } from '../kit/wait.js';
import { PEOPLE } from '../kit/world.js';
import { Inspector, type HeapReading } from './inspect.js';
import {
  describeMapping,
  memoryOf,
  rssByMapping,
  settledMemory,
  type Memory,
  type RssByMapping,
} from './procs.js';
import type { BenchService } from './setup.js';
import { summarize, type Summary } from './stats.js';

interface DeploymentShape {
  metadata: { namespace: string; name: string; generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
  };
}

/** `kubectl rollout status`'s "successfully rolled out" test. */
function rolledOut(d: DeploymentShape): boolean {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  return (
    (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
    (s.updatedReplicas ?? 0) >= want &&
    (s.replicas ?? 0) === (s.updatedReplicas ?? 0) &&
    (s.availableReplicas ?? 0) >= (s.updatedReplicas ?? 0)
  );
}

/** When each generation of each Deployment first reached a complete rollout, by the double's clock. */
export class ConvergenceLog {
  private readonly done = new Map<string, { generation: number; at: number }[]>();
  private readonly unsubscribe: () => void;

  constructor(private readonly cluster: KubernetesDouble) {
    this.unsubscribe = cluster.onChange((e: StoreEvent) => {
      if (e.kind !== 'Deployment' || e.type === 'DELETED') return;
      const d = e.object as unknown as DeploymentShape;
      if (!rolledOut(d)) return;
      const key = `${d.metadata.namespace}/${d.metadata.name}`;
      const list = this.done.get(key) ?? [];
      const generation = d.metadata.generation ?? 0;
      if (list.at(-1)?.generation === generation) return;
      list.push({ generation, at: Date.now() });
      this.done.set(key, list);
    });
  }

  /** Convergence time of the first PATCH of the Deployment inside [from, to]. */
  convergence(namespace: string, name: string, from: number, to: number): number | undefined {
    const patch = this.cluster
      .patches('Deployment', name)
      .find((r) => r.resource?.namespace === namespace && r.at >= from && r.at <= to);
    if (!patch) return undefined;
    const end = this.done.get(`${namespace}/${name}`)?.find((c) => c.at >= patch.at);
    return end ? end.at - patch.at : undefined;
  }

  close(): void {
    this.unsubscribe();
  }
}

export interface OverheadFigures {
  total: Summary;
  convergence: Summary;
  overhead: Summary;
  /** Jobs whose PATCH or convergence could not be paired (left out of the figures). */
  unpaired: number;
}

/** Pairs completed jobs with their Deployment's convergence. */
async function overheadOf(opts: {
  jobs: Job[];
  redis: RedisClient;
  prefix: string;
  namespace: string;
  convergence: ConvergenceLog;
}): Promise<OverheadFigures> {
  const totals: number[] = [];
  const convergences: number[] = [];
  const overheads: number[] = [];
  let unpaired = 0;
  for (const job of opts.jobs) {
    const spec = await opts.redis.hget(`${opts.prefix}:req:${job.id}`, 'spec');
    const service = spec ? (JSON.parse(spec) as { service?: string }).service : undefined;
    if (!service || !job.processedOn || !job.finishedOn) {
      unpaired += 1;
      continue;
    }
    const total = job.finishedOn - job.processedOn;
    const converged = opts.convergence.convergence(opts.namespace, service, job.processedOn, job.finishedOn);
    if (converged === undefined) {
      unpaired += 1;
      continue;
    }
    totals.push(total);
    convergences.push(converged);
    overheads.push(total - converged);
  }
  return {
    total: summarize(totals),
    convergence: summarize(convergences),
    overhead: summarize(overheads),
    unpaired,
  };
}

async function counts(jobs: Queue): Promise<{ completed: number; failed: number }> {
  const c = await jobs.getJobCounts('completed', 'failed');
  return { completed: c.completed ?? 0, failed: c.failed ?? 0 };
}

async function completedSince(jobs: Queue, since: number): Promise<Job[]> {
  const all = await jobs.getJobs(['completed'], 0, -1, true);
  return all.filter((j) => (j.processedOn ?? 0) >= since);
}

function rollbackCommand(bot: BotProcess, s: BenchService, responseUrl?: string) {
  return bot.client.command({
    command: '/rollback',
    text: s.name,
    user_id: PEOPLE.requester,
    channel_id: s.channel,
    ...(responseUrl ? { response_url: responseUrl } : {}),
  });
}

/** Rollbacks one at a time (no approval, no health checks): backout's overhead with nothing else going on. */
export async function benchOverhead(opts: {
  bot: BotProcess;
  jobs: Queue;
  redis: RedisClient;
  prefix: string;
  namespace: string;
  convergence: ConvergenceLog;
  services: BenchService[];
  log: (line: string) => void;
}): Promise<OverheadFigures> {
  const since = Date.now();
  for (const s of opts.services) {
    const before = await counts(opts.jobs);
    const ack = await rollbackCommand(opts.bot, s);
    if (ack.status !== 200) throw new Error(`/rollback ${s.name} was answered ${ack.status}`);
    await waitFor(
      async () => {
        const now = await counts(opts.jobs);
        if (now.failed > before.failed) throw new Error(`a rollback job failed (${s.name})`);
        return now.completed > before.completed;
      },
      { timeoutMs: 30_000, intervalMs: 5, what: `the rollback of ${s.name}` },
    );
  }
  const figures = await overheadOf({ ...opts, jobs: await completedSince(opts.jobs, since) });
  opts.log(
    `  overhead one at a time: mean ${figures.overhead.mean.toFixed(1)} p50 ${figures.overhead.p50} p99 ${figures.overhead.p99} ms (n=${figures.overhead.n})`,
  );
  return figures;
}

export interface MemoryFigures {
  idle: Memory & { waitedMs: number; settled: boolean };
  afterJobs: Memory & { waitedMs: number; settled: boolean };
  /** At idle, once the inspector was opened: after a forced full GC, heap and settled RSS. */
  idleGc: HeapReading & { settledRssMb: number; where: RssByMapping };
  /**
   * Warm: after the first round of jobs, once its Slack messages were delivered, after a forced
   * full GC (every library the jobs need loaded and their code compiled). Absent if the outbox did
   * not empty in time.
   */
  warmGc?: HeapReading & { settledRssMb: number; jobs: number; where: RssByMapping };
  /** After the jobs and a forced full GC: heap and settled RSS. */
  afterGc: HeapReading & { settledRssMb: number };
  /** Idle RSS of a `BACKOUT_ROLE=web` process with the same config, when measured. */
  webIdle?: Memory & { waitedMs: number; settled: boolean };
  /** Rollback jobs completed between the two readings. */
  jobs: number;
  rounds: number;
  perRound: number;
  /** Wall time of the rounds. */
  elapsedMs: number;
  /** Slack messages still queued in backout's outbox when the "after" reading was taken. */
  notifyBacklog: number;
  /**
   * Once every card, reply and edit of those jobs reached Slack (the outbox empty): RSS and heap
   * after a forced full GC, and how long the outbox took to empty. Absent if it did not in time.
   */
  drainedGc?: HeapReading & { settledRssMb: number; drainedAfterMs: number; where: RssByMapping };
  /** Commands that did not start a rollback (sent again), by backout's answer. */
  notStarted: Map<string, number>;
  /** Rollback jobs that failed, by reason. */
  failedJobs: Map<string, number>;
  /** The overhead figure again, for every job of these rounds (100 at a time on 16 worker slots). */
  overheadUnderLoad: OverheadFigures;
}

const STARTED = /Started `([a-z]{2}-[a-z0-9]{8})`/;

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** backout's answer (through response_url) to a command, once it has come. */
function answerTo(slack: SlackDouble, url: string): string | undefined {
  const r = slack.responses(url)[0];
  if (!r) return undefined;
  return typeof r.body.text === 'string' ? r.body.text : JSON.stringify(r.body);
}

/**
 * One round: `/rollback` for every service at once; a command that does not start a rollback is sent
 * again (at most `attempts` times); then waits until every started job has ended.
 */
async function round(
  opts: { bot: BotProcess; slack: SlackDouble; jobs: Queue; services: BenchService[] },
  stats: { notStarted: Map<string, number>; failedJobs: Map<string, number> },
  attempts = 3,
): Promise<number> {
  let pending = opts.services;
  const started: string[] = [];
  for (let attempt = 1; attempt <= attempts && pending.length; attempt++) {
    const urls = pending.map(() => opts.slack.newResponseUrl());
    const acks = await Promise.all(pending.map((s, i) => rollbackCommand(opts.bot, s, urls[i])));
    const retry: BenchService[] = [];
    const texts = await waitFor(
      () => {
        const all = urls.map((u) => answerTo(opts.slack, u));
        return all.every((t) => t !== undefined) ? all : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'answers to the commands' },
    ).catch(() => urls.map((u) => answerTo(opts.slack, u)));
    for (const [i, service] of pending.entries()) {
      const id = texts[i] && STARTED.exec(texts[i])?.[1];
      if (acks[i]!.status === 200 && id) {
        started.push(id);
        continue;
      }
      bump(
        stats.notStarted,
        (texts[i] ?? `no answer (ack ${acks[i]!.status})`).replace(/\s+/g, ' ').slice(0, 120),
      );
      retry.push(service);
    }
    pending = retry;
  }
  const states = await waitFor(
    async () => {
      const all = await Promise.all(started.map((id) => opts.jobs.getJobState(id)));
      return all.every((st) => st === 'completed' || st === 'failed') ? all : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 100, what: `${started.length} rollbacks to end` },
  );
  let completed = 0;
  for (const [i, state] of states.entries()) {
    if (state === 'completed') {
      completed += 1;
      continue;
    }
    const job = await opts.jobs.getJob(started[i]!);
    bump(stats.failedJobs, (job?.failedReason ?? 'unknown').slice(0, 120));
  }
  return completed;
}

/** Idle RSS, then rounds of rollbacks of every service at once until `jobs` have completed, then RSS again. */
export async function benchMemory(opts: {
  bot: BotProcess;
  slack: SlackDouble;
  jobs: Queue;
  redis: RedisClient;
  prefix: string;
  namespace: string;
  convergence: ConvergenceLog;
  /** Rounds take the next `perRound` of these in turn. */
  services: BenchService[];
  perRound: number;
  /** Completed rollback jobs to reach. */
  target: number;
  log: (line: string) => void;
}): Promise<MemoryFigures> {
  const pid = opts.bot.child.pid;
  if (pid === undefined) throw new Error('backout has no pid');
  const idle = await settledMemory(pid);
  opts.log(`  idle RSS ${idle.rssMb.toFixed(1)} MB (settled after ${idle.waitedMs} ms)`);
  const inspector = await Inspector.open(opts.bot.child, opts.bot.output);
  const gc = async () => {
    const heap = await inspector.collect();
    // Steady for 3.5 s: backout hands freed memory back after 2 s of quiet following a collection.
    const settledRssMb = (await settledMemory(pid, { window: 8, maxMs: 15_000 })).rssMb;
    return { ...heap, settledRssMb, where: rssByMapping(pid) };
  };
  const idleGc = await gc();
  // BENCH_HEAP_SNAPSHOTS=<dir>: heap snapshots at idle and once the jobs' work is done, to diff.
  const snapshots = process.env.BENCH_HEAP_SNAPSHOTS;
  if (snapshots) await inspector.snapshot(join(snapshots, 'memory-idle.heapsnapshot'));
  opts.log(
    `  idle after a forced GC (inspector open): heap ${idleGc.heapUsedMb.toFixed(1)} MB, RSS ${idleGc.settledRssMb.toFixed(1)} MB (${whereRss(idleGc)})`,
  );
  // Entries still queued in each channel's outbox, over all its lanes.
  const outbox = async () => {
    const backlog = await Promise.all(
      opts.services.map(async (s) => {
        const lanes = await opts.redis.zrange(`${opts.prefix}:notify:lanes:${s.channel}`, '0', '-1');
        const lengths = await Promise.all(
          lanes.map((lane) => opts.redis.llen(`${opts.prefix}:notify:lane:${s.channel}:${lane}`)),
        );
        return lengths.reduce((n, v) => n + v, 0);
      }),
    );
    return backlog.reduce((n, v) => n + v, 0);
  };
  // The jobs' work ends when their cards and thread replies are in Slack: wait for the outbox.
  const drain = async () => {
    const start = Date.now();
    const drained = await waitFor(async () => (await outbox()) === 0, {
      timeoutMs: 300_000,
      intervalMs: 1_000,
      what: 'the Slack outbox to empty',
    }).then(
      () => true,
      () => false,
    );
    return { drained, drainedAfterMs: Date.now() - start };
  };
  const since = Date.now();
  const stats = { notStarted: new Map<string, number>(), failedJobs: new Map<string, number>() };
  let completed = 0;
  let rounds = 0;
  let warm: MemoryFigures['warmGc'];
  let pausedMs = 0;
  const maxRounds = Math.ceil(opts.target / opts.perRound) + 3;
  while (completed < opts.target) {
    if (rounds === maxRounds)
      throw new Error(`only ${completed} of ${opts.target} rollbacks completed in ${rounds} rounds`);
    const from = (rounds * opts.perRound) % opts.services.length;
    rounds += 1;
    const services = opts.services.slice(from, from + Math.min(opts.perRound, opts.target - completed));
    completed += await round({ ...opts, services }, stats);
    opts.log(`  round ${rounds}: ${completed} jobs completed, RSS ${memoryOf(pid).rssMb.toFixed(1)} MB`);
    if (rounds === 1 && completed < opts.target) {
      // Warm: every library the jobs use loaded, the code they run compiled; nothing else held.
      const paused = Date.now();
      const first = await drain();
      if (first.drained) {
        const heap = await gc();
        warm = { ...heap, jobs: completed };
        opts.log(
          `  warm (after ${completed} jobs, outbox empty, forced GC): heap ${heap.heapUsedMb.toFixed(1)} MB, RSS ${heap.settledRssMb.toFixed(1)} MB (${whereRss(heap)})`,
        );
      }
      pausedMs += Date.now() - paused;
    }
  }
  const elapsedMs = Date.now() - since - pausedMs;
  const afterJobs = await settledMemory(pid, { maxMs: 10_000 });
  const notifyBacklog = await outbox();
  opts.log(
    `  after ${completed} jobs: RSS ${afterJobs.rssMb.toFixed(1)} MB (peak ${afterJobs.peakMb.toFixed(1)} MB)`,
  );
  const afterGc = await gc();
  opts.log(
    `  after a forced GC: heap ${afterGc.heapUsedMb.toFixed(1)} MB, RSS ${afterGc.settledRssMb.toFixed(1)} MB`,
  );
  const { drained, drainedAfterMs } = await drain();
  const drainedGc = drained ? { ...(await gc()), drainedAfterMs } : undefined;
  if (snapshots) await inspector.snapshot(join(snapshots, 'memory-drained.heapsnapshot'));
  inspector.close();
  opts.log(
    drainedGc
      ? `  outbox empty after ${(drainedAfterMs / 1000).toFixed(0)} s; after a forced GC: heap ${drainedGc.heapUsedMb.toFixed(1)} MB, RSS ${drainedGc.settledRssMb.toFixed(1)} MB (${whereRss(drainedGc)})`
      : `  the outbox did not empty within ${(drainedAfterMs / 1000).toFixed(0)} s`,
  );
  const overheadUnderLoad = await overheadOf({ ...opts, jobs: await completedSince(opts.jobs, since) });
  return {
    idle,
    afterJobs,
    idleGc,
    afterGc,
    jobs: completed,
    rounds,
    perRound: opts.perRound,
    elapsedMs,
    notifyBacklog,
    ...(drainedGc ? { drainedGc } : {}),
    ...(warm ? { warmGc: warm } : {}),
    ...stats,
    overheadUnderLoad,
  };
}

/** One line on where a process's RSS lies: V8's heap as committed, malloc's main arena, the rest. */
function whereRss(reading: HeapReading & { where: RssByMapping }): string {
  return `V8 heap committed ${reading.heapTotalMb.toFixed(1)} MB, external ${reading.externalMb.toFixed(1)} MB; ${describeMapping(reading.where)}`;
}
