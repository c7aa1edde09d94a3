/** Writes BENCHMARKS.md from one run's figures: the machine, the command, and each target met or the gap. */
import type { AckFigures, AckSeries } from './ack.js';
import type { ApprovalFigures } from './approval.js';
import type { MemoryFigures, OverheadFigures } from './rollbacks.js';
import { mb, ms, ratio, type Summary } from './stats.js';

export const TARGETS = {
  ackP99Ms: 50,
  ackRatio: 1.5,
  approvalP99Ms: 25,
  overheadMs: 500,
  idleRssMb: 150,
  durationMs: 5 * 60_000,
} as const;

export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  redis: string;
  /** 1, 5 and 15 minute load averages when the run started and ended. */
  loadAtStart: number[];
  loadAtEnd: number[];
}

export interface BenchReport {
  machine: Machine;
  command: string;
  startedAt: Date;
  durationMs: number;
  /** How backout was run, and how `npm run build` went. */
  backout: { entry: string; build: string };
  /** The bench config's size and the Kubernetes double's controller tick for bench Deployments. */
  config: { services: number; memoryServices: number; tickMs: number };
  ack?: AckFigures;
  approval?: ApprovalFigures;
  overhead?: OverheadFigures;
  steps?: { step: string; meanMs: number; n: number }[];
  memory?: MemoryFigures;
  /** RSS after importing each library in turn (a fresh process, same flags). */
  moduleCosts?: { baseMb: number; modules: { module: string; rssMb: number; addedMb: number }[] };
  failures: string[];
}

function verdict(gaps: string[]): string {
  return gaps.length === 0 ? '**met**' : `**gap**: ${gaps.join('; ')}`;
}

function duration(msTotal: number): string {
  const s = Math.round(msTotal / 1000);
  if (s < 60) return `${s} s`;
  return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
}

function summaryRow(label: string, s: Summary, extra: string[] = []): string {
  return `| ${label} | ${s.n} | ${ms(s.mean)} | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.max)} |${extra.map((e) => ` ${e} |`).join('')}`;
}

interface AckPair {
  backout: Summary;
  bare: Summary;
  errors: number;
}

function ackPair(s: AckSeries): AckPair | undefined {
  const backout = s.results.get('backout');
  const bare = s.results.get('bare');
  return backout && bare
    ? { backout: backout.latency, bare: bare.latency, errors: backout.errors }
    : undefined;
}

function ackVerdict(a: AckPair): string {
  const gaps: string[] = [];
  const r = a.backout.p99 / a.bare.p99;
  if (!(a.backout.p99 < TARGETS.ackP99Ms))
    gaps.push(
      `p99 ${ms(a.backout.p99)} is ${ms(a.backout.p99 - TARGETS.ackP99Ms)} over ${TARGETS.ackP99Ms} ms`,
    );
  if (!(r <= TARGETS.ackRatio))
    gaps.push(`${r.toFixed(2)}× the bare Bolt p99 (target ≤ ${TARGETS.ackRatio}×)`);
  if (a.errors > 0) gaps.push(`${a.errors} requests not answered 200`);
  return verdict(gaps);
}

function approvalVerdict(a: ApprovalFigures): string {
  return verdict(
    a.backout.p99 < TARGETS.approvalP99Ms
      ? []
      : [
          `p99 ${ms(a.backout.p99)} is ${ms(a.backout.p99 - TARGETS.approvalP99Ms)} over ${TARGETS.approvalP99Ms} ms`,
        ],
  );
}

function overheadVerdict(o: OverheadFigures): string {
  const gaps: string[] = [];
  if (!(o.overhead.p99 < TARGETS.overheadMs))
    gaps.push(
      `p99 ${ms(o.overhead.p99)} is ${ms(o.overhead.p99 - TARGETS.overheadMs)} over ${TARGETS.overheadMs} ms`,
    );
  if (o.overhead.n === 0) gaps.push('no rollback could be measured');
  return verdict(gaps);
}

function memoryVerdict(m: MemoryFigures): string {
  return verdict(
    m.idle.rssMb < TARGETS.idleRssMb
      ? []
      : [
          `idle RSS ${mb(m.idle.rssMb)} is ${mb(m.idle.rssMb - TARGETS.idleRssMb)} over ${TARGETS.idleRssMb} MB`,
        ],
  );
}

function notMeasured(name: string, failures: string[]): string {
  const why = failures.find((f) => f.startsWith(name));
  return `**not measured**${why ? `: ${why}` : ''}`;
}

export function renderReport(r: BenchReport): string {
  const out: string[] = [];
  const p = (line = '') => out.push(line);
  const history = r.ack?.series[0];
  const historyPair = history && ackPair(history);
  p('# Benchmarks');
  p();
  p(
    `Written by \`${r.command}\` (test/bench/main.ts). Every figure below comes from the run of ${r.startedAt.toISOString()}; ` +
      'each baseline was measured in the same run, on the same machine, against the same Redis and the same local ' +
      'doubles of Slack and Kubernetes, so the ratios compare like with like. Latencies are wall-clock on one machine ' +
      '(backout, the baselines, the doubles, the load generator and Redis share its cores). Percentiles are nearest-rank.',
  );
  p();
  p('## Machine and run');
  p();
  p('| | |');
  p('|---|---|');
  p(`| CPU | ${r.machine.cpu}, ${r.machine.cores} cores |`);
  p(`| Memory | ${r.machine.memoryGb.toFixed(1)} GB |`);
  p(`| OS | ${r.machine.os} |`);
  p(`| Node.js | ${r.machine.node} |`);
  p(`| Redis | ${r.machine.redis} |`);
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' / ');
  p(
    `| Load average (1 / 5 / 15 min) | ${load(r.machine.loadAtStart)} at the start, ${load(r.machine.loadAtEnd)} at the end (anything else running on the machine competes with these figures) |`,
  );
  p(`| Command | \`${r.command}\` |`);
  p(`| Date | ${r.startedAt.toISOString()} |`);
  p(
    `| Duration | ${duration(r.durationMs)} (target: under ${duration(TARGETS.durationMs)} — ${r.durationMs < TARGETS.durationMs ? 'met' : 'gap'}) |`,
  );
  p(`| backout | ${r.backout.entry}; ${r.backout.build} |`);
  p();
  p('## Summary');
  p();
  p('| # | Figure | Target | backout | Baseline | Ratio | Verdict |');
  p('|---|---|---|---|---|---|---|');
  p(
    history && historyPair
      ? `| 1 | Slash-command ack p99, ${r.ack!.concurrency} concurrent (\`/rollback ${history.text}\`) | < ${TARGETS.ackP99Ms} ms and ≤ ${TARGETS.ackRatio}× bare Bolt | ${ms(historyPair.backout.p99)} | bare Bolt app: ${ms(historyPair.bare.p99)} | ${ratio(historyPair.backout.p99, historyPair.bare.p99)} | ${ackVerdict(historyPair)} |`
      : `| 1 | Slash-command ack p99 | < ${TARGETS.ackP99Ms} ms and ≤ ${TARGETS.ackRatio}× bare Bolt | | | | ${notMeasured('ack', r.failures)} |`,
  );
  p(
    r.approval
      ? `| 2 | Approve click → worker start p99 | < ${TARGETS.approvalP99Ms} ms | ${ms(r.approval.backout.p99)} | bare BullMQ add → process: ${ms(r.approval.bare.p99)} | ${ratio(r.approval.backout.p99, r.approval.bare.p99)} | ${approvalVerdict(r.approval)} |`
      : `| 2 | Approve click → worker start p99 | < ${TARGETS.approvalP99Ms} ms | | | | ${notMeasured('approval', r.failures)} |`,
  );
  p(
    r.overhead
      ? `| 3 | backout's own overhead per rollback, p99 (mean ${ms(r.overhead.overhead.mean)}) | < ${TARGETS.overheadMs} ms | ${ms(r.overhead.overhead.p99)} | rollback total ${ms(r.overhead.total.p99)} − Kubernetes convergence | — | ${overheadVerdict(r.overhead)} |`
      : `| 3 | backout's own overhead per rollback | < ${TARGETS.overheadMs} ms | | | | ${notMeasured('overhead', r.failures)} |`,
  );
  p(
    r.memory
      ? `| 4 | Resident memory at idle (after ${r.memory.jobs.toLocaleString('en')} jobs: ${mb(r.memory.afterJobs.rssMb)}) | < ${TARGETS.idleRssMb} MB | ${mb(r.memory.idle.rssMb)} | — | — | ${memoryVerdict(r.memory)} |`
      : `| 4 | Resident memory at idle | < ${TARGETS.idleRssMb} MB | | | | ${notMeasured('memory', r.failures)} |`,
  );
  p();
  if (r.failures.length) {
    p('**Failures in this run:**');
    p();
    for (const f of r.failures) p(`- ${f.replace(/\n[\s\S]*/, '')}`);
    p();
  }

  if (r.ack) {
    p('## 1. Slash-command acknowledgement under 200 concurrent requests');
    p();
    p(
      `${r.ack.rounds} measured rounds (after ${r.ack.warmupRounds} warm-up rounds) of ${r.ack.concurrency} signed slash commands sent at once ` +
        'by a load generator in its own process; latency = request sent → response read. The baseline is a bare Bolt app ' +
        "(`HTTPReceiver`, same signing secret, Bolt's defaults, `app.command('/rollback', async ({ ack }) => { await ack(); })`) " +
        'in its own process, sent the same requests. Rounds alternate between the two. After each backout round of ' +
        '`history` the bench waits for backout to finish answering through response_url, so rounds do not overlap. The ' +
        'Slack double counts the `auth.test` calls made while each round runs: acknowledging should need no Web API call.',
    );
    p();
    p('| Command | Implementation | n | mean | p50 | p99 | max | non-200 | `auth.test` calls per request |');
    p('|---|---|---|---|---|---|---|---|---|');
    for (const s of r.ack.series) {
      for (const [i, t] of r.ack.targets.entries()) {
        const res = s.results.get(t.key);
        if (!res) continue;
        p(
          summaryRow(`${i === 0 ? `\`/rollback ${s.text}\`` : ''} | ${t.label}`, res.latency, [
            String(res.errors),
            res.authTestsPerRequest.toFixed(2),
          ]),
        );
      }
      const pair = ackPair(s);
      if (pair) {
        p(
          `| | ratio backout / bare Bolt app | | ${ratio(pair.backout.mean, pair.bare.mean)} | ${ratio(pair.backout.p50, pair.bare.p50)} | ${ratio(pair.backout.p99, pair.bare.p99)} | ${ratio(pair.backout.max, pair.bare.max)} | | |`,
        );
      }
    }
    p();
    for (const s of r.ack.series) {
      const pair = ackPair(s);
      if (!pair) continue;
      p(
        `- \`/rollback ${s.text}\`: ${ackVerdict(pair)}.${s.unsettledRounds ? ` (${s.unsettledRounds} rounds did not settle before the next.)` : ''}`,
      );
    }
    p(
      '- `history` is acknowledged at once and answered later through response_url; `help` is answered in the ' +
        'acknowledgement itself, after checking which of the configured services the user may act on ' +
        `(this bench's config has ${r.config.services} services).`,
    );
    p();
  }

  if (r.approval) {
    const a = r.approval;
    p('## 2. Approve click → worker start');
    p();
    p(
      `Requests that need approval, one for each of ${a.services} services (so the per-target lock does not serialise them, ` +
        "and each card is the first post in its channel, not queued behind another request's thread replies by Slack pacing); " +
        "each card's Approve button clicked one at a time as a signed `block_actions` request " +
        `(${a.backout.n + a.warmup} clicks, the first ${a.warmup} warm-up). Latency = click sent → the BullMQ ` +
        "job's `processedOn` (job id = request id). Baseline: a bare BullMQ `queue.add` → `Worker` in its own process with " +
        "backout's worker connection and timing options (`WORKER_TIMING`, concurrency 16): `processedOn − timestamp`. Each job " +
        'finishes before the next click or add.',
    );
    p();
    p('| | n | mean | p50 | p99 | max |');
    p('|---|---|---|---|---|---|');
    p(summaryRow('backout: Approve click → job start', a.backout));
    p(summaryRow('bare BullMQ: add → process', a.bare));
    p(
      `| ratio backout / bare | | ${ratio(a.backout.mean, a.bare.mean)} | ${ratio(a.backout.p50, a.bare.p50)} | ${ratio(a.backout.p99, a.bare.p99)} | ${ratio(a.backout.max, a.bare.max)} |`,
    );
    p(summaryRow("(for reference) the click's HTTP acknowledgement", a.clickAck));
    p();
    p(`Verdict: ${approvalVerdict(a)}. BullMQ timestamps have millisecond resolution.`);
    p();
  }

  if (r.overhead) {
    const o = r.overhead;
    p("## 3. backout's own overhead per rollback");
    p();
    p(
      `${o.overhead.n} rollbacks (no approval, no health checks, one-replica Deployments whose controller converges in one ${r.config.tickMs} ms tick), ` +
        "one at a time. Total = the BullMQ job's `finishedOn − processedOn`; convergence = from the Kubernetes double " +
        "receiving backout's PATCH to the first stored Deployment status that is complete for the new generation " +
        '(recorded at the instant it is written); overhead = total − convergence.',
    );
    p();
    p('| | n | mean | p50 | p99 | max |');
    p('|---|---|---|---|---|---|');
    p(summaryRow('Rollback job, total', o.total));
    p(summaryRow('Kubernetes double convergence', o.convergence));
    p(summaryRow("**backout's own overhead**", o.overhead));
    p();
    p(
      `Verdict (p99): ${overheadVerdict(o)}.${o.unpaired ? ` ${o.unpaired} jobs could not be paired with a PATCH and were left out.` : ''}`,
    );
    p();
    if (r.steps?.length) {
      p(
        "Where a job's time goes — mean duration of each step, from backout's own `backout_step_duration_seconds` (same jobs, plus the approval bench's):",
      );
      p();
      p('| Step | n | mean |');
      p('|---|---|---|');
      for (const s of r.steps) p(`| ${s.step} | ${s.n} | ${ms(s.meanMs)} |`);
      p();
    }
    if (r.memory) {
      const u = r.memory.overheadUnderLoad;
      p(
        `Under load (the ${r.memory.jobs.toLocaleString('en')} rollbacks of figure 4, ${r.memory.perRound} started at once on 16 worker slots), for reference:`,
      );
      p();
      p('| | n | mean | p50 | p99 | max |');
      p('|---|---|---|---|---|---|');
      p(summaryRow('Rollback job, total', u.total));
      p(summaryRow('Kubernetes double convergence', u.convergence));
      p(summaryRow("backout's own overhead", u.overhead));
      p();
    }
  }

  if (r.memory) {
    const m = r.memory;
    p('## 4. Resident memory');
    p();
    p(
      `A fresh backout process (role \`all\`, ${r.backout.entry}, configured with ${r.config.memoryServices} services), its RSS read from \`/proc/<pid>/status\` (VmRSS; MB = 10⁶ bytes). ` +
        `Idle = once start-up has settled (four readings 0.5 s apart within 1 MB). Then rounds of \`/rollback svc-NNN\` for ` +
        `${m.perRound} services at once (each service in its own channel; a plain rollback flips between the two revisions), ` +
        `each round waiting until all its jobs ended, until ${m.jobs.toLocaleString('en')} jobs had completed: ${m.rounds} rounds in ${duration(m.elapsedMs)}.`,
    );
    p();
    if (m.notStarted.size || m.failedJobs.size) {
      p('Commands that did not start a rollback (sent again in the same round) and jobs that failed:');
      p();
      for (const [text, n] of m.notStarted) p(`- ${n}× command answered: “${text}”`);
      for (const [text, n] of m.failedJobs) p(`- ${n}× job failed: “${text}”`);
      p();
    }
    p('| Reading | RSS |');
    p('|---|---|');
    p(`| Idle after start-up (settled after ${duration(m.idle.waitedMs)}) | ${mb(m.idle.rssMb)} |`);
    p(
      `| After ${m.jobs.toLocaleString('en')} rollback jobs (${m.afterJobs.settled ? `settled after ${duration(m.afterJobs.waitedMs)}` : `not settled after ${duration(m.afterJobs.waitedMs)}`}; ${m.notifyBacklog} Slack messages still in the outbox) | ${mb(m.afterJobs.rssMb)} |`,
    );
    p(`| Growth | ${mb(m.afterJobs.rssMb - m.idle.rssMb)} |`);
    p(`| Peak during the run (VmHWM) | ${mb(m.afterJobs.peakMb)} |`);
    p();
    p(`Verdict (idle RSS < ${TARGETS.idleRssMb} MB): ${memoryVerdict(m)}.`);
    p();
  }
  if (r.moduleCosts) {
    const c = r.moduleCosts;
    p('### Where idle memory goes');
    p();
    p(
      'A fresh Node process with the same flags imports the libraries backout loads at start-up, one after the other; RSS after each, settled (this run):',
    );
    p();
    p('| Loaded | RSS | Added |');
    p('|---|---|---|');
    p(`| Node itself | ${mb(c.baseMb)} | |`);
    for (const m of c.modules) p(`| \`${m.module}\` | ${mb(m.rssMb)} | +${mb(m.addedMb)} |`);
    const last = c.modules.at(-1);
    if (last && r.memory) {
      p();
      p(
        `The libraries alone account for ${mb(last.rssMb)} of backout's ${mb(r.memory.idle.rssMb)} at idle; backout's own code, connections, queues and workers the remaining ${mb(Math.max(0, r.memory.idle.rssMb - last.rssMb))}.`,
      );
    }
    p();
  }
  return `${out.join('\n')}\n`;
}
