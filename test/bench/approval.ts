/**
 * Figure 2: Approve click → worker start. Requests that need approval are filed for distinct
 * services (so the per-target lock does not serialise them); then each card's Approve button is
 * clicked, one at a time (in two such passes, for more clicks than services), and the latency
 * runs from just before the signed click is sent to the BullMQ job's `processedOn` (the job id is
 * the request id). The baseline is a bare BullMQ
 * `queue.add` → `Worker` (backout's connection and timing options) in the same run: `processedOn -
 * timestamp`, one bare job right after each click's job (so noise on the machine hits both alike).
 * Each job is left to finish before the next click, so one measurement does not run into the
 * previous one's work.
 */
import { Queue, type Job } from 'bullmq';
import type { BotProcess } from '../kit/process.js';
import { findButton } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';
import { PEOPLE, SIGNING_SECRET, type World } from '../kit/world.js';
import { createLogger } from '../../src/observability/logger.js';
import { createRedis } from '../../src/queue/redis.js';
import { RepeatLog } from '../../src/redis/repeat-log.js';
import { forkChild, LoadGenerator } from './procs.js';
import { NAMESPACE, type BenchService } from './setup.js';
import { summarize, type Summary } from './stats.js';

export interface ApprovalFigures {
  backout: Summary;
  /** How long the click's own HTTP acknowledgement took. */
  clickAck: Summary;
  bare: Summary;
  /** Click sent → the Kubernetes double receiving the rollback's first Deployment PATCH. */
  firstWrite: Summary;
  warmup: number;
  services: number;
  passes: number;
}

async function finished(queue: Queue, id: string): Promise<Job> {
  return waitFor(
    async () => {
      const job = await queue.getJob(id);
      if (job?.failedReason) throw new Error(`job ${id} failed: ${job.failedReason}`);
      return job?.finishedOn ? job : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 10, what: `job ${id} to finish` },
  );
}

const FILED = /Filed `([a-z]{2}-[a-z0-9]{8})`/;

/** Files one rollback that needs approval and returns its request id, from backout's answer. */
async function file(opts: { world: World; bot: BotProcess }, service: BenchService): Promise<string> {
  const answers: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const responseUrl = opts.world.slack.newResponseUrl();
    const ack = await opts.bot.client.command({
      command: '/rollback',
      text: `${service.name} --reason "approval bench"`,
      user_id: PEOPLE.requester,
      channel_id: service.channel,
      response_url: responseUrl,
    });
    if (ack.status !== 200) throw new Error(`/rollback ${service.name} was answered ${ack.status}`);
    const answer = await waitFor(() => opts.world.slack.responses(responseUrl)[0], {
      timeoutMs: 15_000,
      intervalMs: 10,
      what: `the answer to /rollback ${service.name}`,
    });
    const text = typeof answer.body.text === 'string' ? answer.body.text : JSON.stringify(answer.body);
    const id = FILED.exec(text)?.[1];
    if (id) return id;
    answers.push(text.slice(0, 200));
  }
  throw new Error(`/rollback ${service.name} filed nothing: ${answers.join(' | ')}`);
}

/**
 * Files a request for every service, one after the other (each answered before the next is sent),
 * then finds each request's card and its Approve button.
 */
async function fileAll(opts: { world: World; bot: BotProcess; services: BenchService[] }) {
  const { world } = opts;
  const filed: { id: string; service: BenchService }[] = [];
  for (const service of opts.services) filed.push({ id: await file(opts, service), service });
  return Promise.all(
    filed.map(({ id, service }) =>
      waitFor(
        () => {
          for (const m of world.slack.messages(service.channel)) {
            if (m.thread_ts || !JSON.stringify(m.blocks ?? []).includes('backout_approve')) continue;
            const button = findButton(m.blocks, 'backout_approve');
            if ((JSON.parse(button.value ?? '{}') as { r?: string }).r === id)
              return { card: m, button, id, service };
          }
          return undefined;
        },
        { timeoutMs: 30_000, intervalMs: 50, what: `the card of ${id} (${service.name})` },
      ),
    ),
  );
}

export async function benchApproval(opts: {
  world: World;
  bot: BotProcess;
  jobs: Queue;
  services: BenchService[];
  barePrefix: string;
  warmup?: number;
  /** How many times every service's card is filed and clicked. */
  passes?: number;
  log: (line: string) => void;
}): Promise<ApprovalFigures> {
  const { world, bot, jobs, services, warmup = 3, passes = 2 } = opts;
  const latencies: number[] = [];
  const clickAcks: number[] = [];
  const firstWrites: number[] = [];
  const bareLatencies: number[] = [];
  let clicks = 0;

  // Clicks go out from the load generator's own process (raw HTTP, connection opened untimed), so
  // the clock starts when the click is written, not while this process serves the doubles.
  const [loadgen, bare] = await Promise.all([LoadGenerator.start(), openBare(opts.barePrefix)]);
  try {
    // Each pass files a request for every service and clicks every card: more clicks than services,
    // so that the p99 is not simply the slowest click.
    for (let pass = 0; pass < passes; pass++) {
      for (const { id, service, card, button } of await fileAll(opts)) {
        const form = bot.client.blockActionForm({
          user: PEOPLE.sre1,
          channel: card.channel,
          messageTs: card.ts,
          actionId: button.actionId,
          blockId: button.blockId,
          value: button.value,
          responseUrl: world.slack.newResponseUrl(),
        });
        const [click] = (await loadgen.round(bot.url, SIGNING_SECRET, [form])).results;
        if (click?.status !== 200 || click.sentAt === undefined)
          throw new Error(
            `the click on ${id} was answered ${click?.status ?? 'not at all'}${click?.error ? ` (${click.error})` : ''}`,
          );
        const sentAt = click.sentAt;
        // processedOn is the worker's own record of the start: read once the job is done, so that no
        // polling competes with the path being measured.
        const job = await finished(jobs, id);
        const measured = clicks++ >= warmup;
        if (measured) {
          latencies.push(job.processedOn! - sentAt);
          clickAcks.push(click.ms);
        }
        const patch = world.prod.requests.find(
          (r) =>
            r.method === 'PATCH' &&
            r.at >= sentAt &&
            r.path.endsWith(`/namespaces/${NAMESPACE}/deployments/${service.name}`),
        );
        if (measured && patch) firstWrites.push(patch.at - sentAt);
        // The baseline takes its turn right after each click, so a spell of noise hits both alike.
        const bareMs = await bare.one(clicks);
        if (measured) bareLatencies.push(bareMs);
      }
    }
  } finally {
    await Promise.all([loadgen.child.stop(), bare.close()]);
  }
  const backout = summarize(latencies);
  const firstWrite = summarize(firstWrites);
  opts.log(`  backout: click → first Kubernetes write p50 ${firstWrite.p50} p99 ${firstWrite.p99} ms`);
  const clickAck = summarize(clickAcks);
  opts.log(`  backout: click → start p50 ${backout.p50} p99 ${backout.p99} ms`);

  const bareFigures = summarize(bareLatencies);
  opts.log(`  bare BullMQ: add → process p50 ${bareFigures.p50} p99 ${bareFigures.p99} ms`);
  return { backout, clickAck, bare: bareFigures, firstWrite, warmup, services: services.length, passes };
}

/** A bare queue and its worker process (backout's connection and timing options), for the baseline. */
async function openBare(prefix: string) {
  const redisUrl = 'redis://127.0.0.1:6379';
  const worker = await forkChild('bare-worker.ts', { BENCH_REDIS_URL: redisUrl, BENCH_PREFIX: prefix });
  const log = createLogger({ level: 'warn', secrets: [] });
  const connection = createRedis({ kind: 'standalone', url: redisUrl }, 'command', {
    log,
    repeats: new RepeatLog(log),
  });
  const queue = new Queue('jobs', { connection, prefix });
  return {
    /** One job through the bare queue: add → the worker's `processedOn`, once it has finished. */
    async one(i: number): Promise<number> {
      const added = await queue.add('bare', { i }, { removeOnComplete: false });
      const job = await finished(queue, added.id!);
      return job.processedOn! - job.timestamp;
    },
    async close(): Promise<void> {
      await queue.close();
      connection.disconnect();
      await worker.stop();
    },
  };
}
