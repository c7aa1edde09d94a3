/**
 * Timers on time: how late backout's durable timers fire with 1,000 of them pending. The bench adds
 * 1,000 approval-expiry timers (`expire` jobs on backout's `timers` queue, the options of
 * `expiryTimer` except that completed jobs are kept so their `processedOn` can be read) for requests
 * that do not exist — expiring one is a read that finds nothing, so the figure is the timer's own
 * lateness — due at moments spread evenly over `spreadMs`. Lateness = `processedOn − (timestamp + delay)`.
 * Canary dwell ends and step retries are the same BullMQ delayed-job mechanism on the `jobs` queue
 * (`moveToDelayed`), served by the same process's workers.
 */
import { Queue } from 'bullmq';
import type { RedisClient } from '../../src/redis/client.js';
import { waitFor } from '../kit/wait.js';
import { summarize, type Summary } from './stats.js';

export interface TimerFigures {
  pending: number;
  spreadMs: number;
  lateness: Summary;
  /** Timers that had not fired by the deadline. */
  missing: number;
}

export const TIMERS_MARKS = { start: '<!-- timers-bench:start -->', end: '<!-- timers-bench:end -->' };
export const TIMER_P99_MS = 250;

export async function benchTimers(opts: {
  redis: RedisClient;
  prefix: string;
  pending?: number;
  spreadMs?: number;
  log: (line: string) => void;
}): Promise<TimerFigures> {
  const { pending = 1_000, spreadMs = 20_000 } = opts;
  const timers = new Queue('timers', { connection: opts.redis, prefix: opts.prefix });
  try {
    const run = Date.now().toString(36);
    const ids: string[] = [];
    const firstDue = 2_000;
    for (let i = 0; i < pending; i++) {
      const id = `expire-bench-${run}-${i}`;
      ids.push(id);
      await timers.add(
        'expire',
        { requestId: `bench-${run}-${i}` },
        {
          jobId: id,
          delay: firstDue + Math.floor((i * spreadMs) / pending),
          attempts: 8,
          backoff: { type: 'exponential', delay: 1_000 },
          removeOnComplete: false,
          removeOnFail: 100,
        },
      );
    }
    opts.log(`  ${pending} timers pending, due over ${spreadMs / 1000} s`);
    const done = await waitFor(
      async () => {
        const jobs = await Promise.all(ids.map((id) => timers.getJob(id)));
        return jobs.every((j) => j?.processedOn) ? jobs : undefined;
      },
      { timeoutMs: firstDue + spreadMs + 30_000, intervalMs: 1_000, what: 'every timer to fire' },
    ).catch(async () => Promise.all(ids.map((id) => timers.getJob(id))));
    const lateness: number[] = [];
    for (const job of done) {
      if (job?.processedOn) lateness.push(job.processedOn - (job.timestamp + (job.opts.delay ?? 0)));
    }
    await Promise.all(done.map(async (j) => j?.remove().catch(() => undefined)));
    const summary = summarize(lateness);
    opts.log(`  timer lateness p50 ${summary.p50} ms, p99 ${summary.p99} ms, max ${summary.max} ms`);
    return { pending, spreadMs, lateness: summary, missing: pending - lateness.length };
  } finally {
    await timers.close();
  }
}

export function renderTimers(f: TimerFigures | undefined, failure?: string): string {
  const out = [TIMERS_MARKS.start, '## Timers on time', ''];
  if (!f)
    return [...out, `**not measured**${failure ? `: ${failure}` : ''}`, '', TIMERS_MARKS.end].join('\n');
  const met = f.lateness.p99 <= TIMER_P99_MS && f.missing === 0;
  out.push(
    `${f.pending.toLocaleString('en')} approval-expiry timers added at once to a running backout (role \`all\`) on its own \`timers\` queue, ` +
      `due at moments spread evenly over ${f.spreadMs / 1000} s starting 2 s later, so ${f.pending.toLocaleString('en')} are pending when the first fires. ` +
      'Each is for a request that does not exist, so firing it is one read: the figure is the timer machinery itself. ' +
      "Lateness = the BullMQ job's `processedOn − (timestamp + delay)` (millisecond resolution). Canary dwell ends and " +
      'step retries use the same delayed-job mechanism on the `jobs` queue (`moveToDelayed`) and were not measured separately.',
    '',
    '| | n | mean | p50 | p99 | max |',
    '|---|---|---|---|---|---|',
    `| Lateness | ${f.lateness.n} | ${f.lateness.mean.toFixed(1)} ms | ${f.lateness.p50} ms | ${f.lateness.p99} ms | ${f.lateness.max} ms |`,
    '',
    `Verdict (p99 ≤ ${TIMER_P99_MS} ms${f.missing ? `; ${f.missing} timers did not fire` : ''}): ${met ? '**met**' : '**gap**'}.`,
    '',
    TIMERS_MARKS.end,
  );
  return out.join('\n');
}
