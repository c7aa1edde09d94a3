/** Writes BENCHMARKS.md from one run's figures: the machine, the command, and each target met or the gap. */
import { IDLE_GAP_MS, type AckFigures, type AckSeries } from './ack.js';
import type { ApprovalFigures } from './approval.js';
import type { MemoryFigures, OverheadFigures } from './rollbacks.js';
import { mb, ms, ratio, type Summary } from './stats.js';

export const MEMORY_MARKS = { start: '<!-- memory-bench:start -->', end: '<!-- memory-bench:end -->' };
export const ACK_MARKS = { start: '<!-- ack-bench:start -->', end: '<!-- ack-bench:end -->' };

export const TARGETS = {
  ackP99Ms: 50,
  ackRatio: 1.5,
  /** Issue 18: no slower than the bare Bolt app, at every concurrency, for every command measured. */
  ackFloorRatio: 1.0,
  approvalP99Ms: 25,
  /** Issue 18: approve → start p99 at most this many times bare BullMQ add → process. */
  approvalRatio: 2,
  overheadMs: 500,
  idleRssMb: 150,
  /** Issue 18: idle RSS by role, and after 1,000 jobs and a forced GC within 20 % of idle. */
  idleAllMb: 130,
  idleWebMb: 100,
  afterGcRatio: 1.2,
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
  http?: Summary;
  errors: number;
}

function ackPair(s: AckSeries): AckPair | undefined {
  const backout = s.results.get('backout');
  const bare = s.results.get('bare');
  const http = s.results.get('http');
  return backout && bare
    ? {
        backout: backout.latency,
        bare: bare.latency,
        errors: backout.errors,
        ...(http ? { http: http.latency } : {}),
      }
    : undefined;
}

/** At 200 concurrent: issue 11's < 50 ms and ≤ 1.5×; at every level: issue 18's ≤ 1.0× bare Bolt. */
function ackVerdict(a: AckPair, concurrency: number): string {
  const gaps: string[] = [];
  const r = a.backout.p99 / a.bare.p99;
  if (concurrency >= 200 && !(a.backout.p99 < TARGETS.ackP99Ms))
    gaps.push(
      `p99 ${ms(a.backout.p99)} is ${ms(a.backout.p99 - TARGETS.ackP99Ms)} over ${TARGETS.ackP99Ms} ms`,
    );
  if (concurrency >= 200 && !(r <= TARGETS.ackRatio))
    gaps.push(`${r.toFixed(2)}× the bare Bolt p99 (target ≤ ${TARGETS.ackRatio}×)`);
  else if (!(r <= TARGETS.ackFloorRatio))
    gaps.push(`${r.toFixed(2)}× the bare Bolt p99 (target ≤ ${TARGETS.ackFloorRatio.toFixed(1)}×)`);
  if (a.errors > 0) gaps.push(`${a.errors} requests not answered 200`);
  return verdict(gaps);
}

function approvalVerdict(a: ApprovalFigures): string {
  const gaps: string[] = [];
  if (!(a.backout.p99 < TARGETS.approvalP99Ms))
    gaps.push(
      `p99 ${ms(a.backout.p99)} is ${ms(a.backout.p99 - TARGETS.approvalP99Ms)} over ${TARGETS.approvalP99Ms} ms`,
    );
  // BullMQ timestamps are whole milliseconds: a bare p99 of 0 ms is read as 1 ms.
  const r = a.backout.p99 / Math.max(1, a.bare.p99);
  if (!(r <= TARGETS.approvalRatio))
    gaps.push(`${r.toFixed(2)}× bare BullMQ's p99 (target ≤ ${TARGETS.approvalRatio}×)`);
  return verdict(gaps);
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

function memoryGaps(m: MemoryFigures): string[] {
  const gaps: string[] = [];
  if (!(m.idle.rssMb < TARGETS.idleAllMb))
    gaps.push(
      `role all idle ${mb(m.idle.rssMb)} is ${mb(m.idle.rssMb - TARGETS.idleAllMb)} over ${TARGETS.idleAllMb} MB`,
    );
  if (m.webIdle && !(m.webIdle.rssMb < TARGETS.idleWebMb))
    gaps.push(
      `role web idle ${mb(m.webIdle.rssMb)} is ${mb(m.webIdle.rssMb - TARGETS.idleWebMb)} over ${TARGETS.idleWebMb} MB`,
    );
  const after = m.drainedGc ?? m.afterGc;
  const r = after.settledRssMb / m.idleGc.settledRssMb;
  if (!(r <= TARGETS.afterGcRatio))
    gaps.push(
      `after the jobs${m.drainedGc ? ' (their Slack messages delivered)' : ''} and a GC, RSS is ${r.toFixed(2)}× idle (target ≤ ${TARGETS.afterGcRatio.toFixed(1)}×)` +
        (m.warmGc
          ? `; ${(after.settledRssMb / m.warmGc.settledRssMb).toFixed(2)}× the warm reading after the first ${m.warmGc.jobs} jobs`
          : ''),
    );
  if (!m.drainedGc) gaps.push('the outbox did not empty within 5 min');
  return gaps;
}

function memoryVerdict(m: MemoryFigures): string {
  return verdict(memoryGaps(m));
}

function notMeasured(name: string, failures: string[]): string {
  const why = failures.find((f) => f.startsWith(name));
  return `**not measured**${why ? `: ${why}` : ''}`;
}

export function renderReport(r: BenchReport): string {
  const out: string[] = [];
  const p = (line = '') => out.push(line);
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
  const at200 = (r.ack?.series ?? []).filter((s) => s.concurrency === 200);
  if (at200.length === 0)
    p(
      `| 1 | Slash-command ack p99 | < ${TARGETS.ackP99Ms} ms and ≤ ${TARGETS.ackRatio}× bare Bolt (≤ ${TARGETS.ackFloorRatio.toFixed(1)}× at 1, 50, 200) | | | | ${notMeasured('ack', r.failures)} |`,
    );
  for (const s of at200) {
    const pair = ackPair(s);
    if (!pair) continue;
    const worst = Math.max(
      ...r
        .ack!.series.filter((x) => x.text === s.text)
        .map((x) => {
          const q = ackPair(x);
          return q ? q.backout.p99 / q.bare.p99 : Infinity;
        }),
    );
    p(
      `| 1 | Slash-command ack p99, 200 concurrent (\`/rollback ${s.text}\`; worst ratio at 1 / 50 / 200: ${worst.toFixed(2)}×) | < ${TARGETS.ackP99Ms} ms and ≤ ${TARGETS.ackRatio}× bare Bolt; ≤ ${TARGETS.ackFloorRatio.toFixed(1)}× at every level | ${ms(pair.backout.p99)} | bare Bolt app: ${ms(pair.bare.p99)}${pair.http ? `; plain node:http: ${ms(pair.http.p99)}` : ''} | ${ratio(pair.backout.p99, pair.bare.p99)} | ${verdict(
        r
          .ack!.series.filter((x) => x.text === s.text)
          .map((x) => {
            const q = ackPair(x);
            const v = q ? ackVerdict(q, x.concurrency) : '**not measured**';
            return v === '**met**' ? '' : `${x.concurrency} concurrent: ${v.replace(/^\*\*gap\*\*: /, '')}`;
          })
          .filter(Boolean),
      )} |`,
    );
  }
  p(
    r.approval
      ? `| 2 | Approve click → worker start p99 (→ first Kubernetes write p99: ${ms(r.approval.firstWrite.p99)}) | < ${TARGETS.approvalP99Ms} ms and ≤ ${TARGETS.approvalRatio}× bare BullMQ | ${ms(r.approval.backout.p99)} | bare BullMQ add → process: ${ms(r.approval.bare.p99)} | ${ratio(r.approval.backout.p99, r.approval.bare.p99)} | ${approvalVerdict(r.approval)} |`
      : `| 2 | Approve click → worker start p99 | < ${TARGETS.approvalP99Ms} ms | | | | ${notMeasured('approval', r.failures)} |`,
  );
  p(
    r.overhead
      ? `| 3 | backout's own overhead per rollback, p99 (mean ${ms(r.overhead.overhead.mean)}) | < ${TARGETS.overheadMs} ms | ${ms(r.overhead.overhead.p99)} | rollback total ${ms(r.overhead.total.p99)} − Kubernetes convergence | — | ${overheadVerdict(r.overhead)} |`
      : `| 3 | backout's own overhead per rollback | < ${TARGETS.overheadMs} ms | | | | ${notMeasured('overhead', r.failures)} |`,
  );
  p(
    r.memory
      ? `| 4 | Resident memory at idle, role all (role web: ${r.memory.webIdle ? mb(r.memory.webIdle.rssMb) : 'not measured'}; after ${r.memory.jobs.toLocaleString('en')} jobs${r.memory.drainedGc ? ', their Slack messages delivered,' : ''} and a forced GC: ${mb((r.memory.drainedGc ?? r.memory.afterGc).settledRssMb)}, live heap ${mb((r.memory.drainedGc ?? r.memory.afterGc).heapUsedMb)}${r.memory.warmGc ? `; warm, after the first ${r.memory.warmGc.jobs} jobs: ${mb(r.memory.warmGc.settledRssMb)}` : ''}) | all < ${TARGETS.idleAllMb} MB, web < ${TARGETS.idleWebMb} MB (issue 11: < ${TARGETS.idleRssMb} MB); after GC ≤ ${TARGETS.afterGcRatio}× idle | ${mb(r.memory.idle.rssMb)} | idle with the inspector open, after a GC: ${mb(r.memory.idleGc.settledRssMb)} | ${ratio((r.memory.drainedGc ?? r.memory.afterGc).settledRssMb, r.memory.idleGc.settledRssMb)} | ${memoryVerdict(r.memory)} |`
      : `| 4 | Resident memory at idle | all < ${TARGETS.idleAllMb} MB, web < ${TARGETS.idleWebMb} MB | | | | ${notMeasured('memory', r.failures)} |`,
  );
  p();
  if (r.failures.length) {
    p('**Failures in this run:**');
    p();
    for (const f of r.failures) p(`- ${f.replace(/\n[\s\S]*/, '')}`);
    p();
  }

  if (r.ack) p(`${ACK_MARKS.start}\n${renderAckSection(r.ack, r.config.services)}${ACK_MARKS.end}\n`);

  if (r.approval) {
    const a = r.approval;
    p('## 2. Approve click → worker start');
    p();
    p(
      `Requests that need approval, in ${a.passes} passes, each filing one for each of ${a.services} services (so the per-target lock does not serialise them; ` +
        'a new card goes ahead of the thread replies still queued in its channel) and then clicking ' +
        "each card's Approve button one at a time as a signed `block_actions` request, sent by the load generator " +
        'in its own process over a connection opened before the clock starts (as for figure 1) ' +
        `(${a.backout.n + a.warmup} clicks, the first ${a.warmup} warm-up). Latency = click sent → the BullMQ ` +
        "job's `processedOn` (job id = request id). Baseline: a bare BullMQ `queue.add` → `Worker` in its own process with " +
        "backout's worker connection and timing options (`WORKER_TIMING`, concurrency 16): `processedOn − timestamp`, one bare job right after each click's job, so that " +
        "both are measured under the same conditions on the machine (backout meanwhile still delivering earlier jobs' thread replies, paced at about one post a second per channel, in its own process). Each job " +
        'finishes before the next click or add; its `processedOn` is read once it has, so nothing polls Redis while the path is measured.',
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
    p(
      summaryRow(
        'backout: Approve click → first Kubernetes write (the Deployment PATCH reaching the double)',
        a.firstWrite,
      ),
    );
    p();
    const tail = a.backout.n - Math.ceil(0.99 * a.backout.n) + 1;
    p(
      `Verdict: ${approvalVerdict(a)}. BullMQ timestamps have millisecond resolution, and each p99 is ` +
        `decided by the slowest ${tail} of ${a.backout.n} samples, so the p99 ratio moves from ` +
        `run to run with the machine's noise; the p50 and mean ratios (${ratio(a.backout.p50, a.bare.p50)} and ` +
        `${ratio(a.backout.mean, a.bare.mean)} here) are the steadier reading of where the path stands.`,
    );
    p();
    p(
      "On backout's path and not the baseline's: the HTTP request and its signature check (the click's " +
        'acknowledgement above), the replay check (one Redis round trip, while the request is read), and the ' +
        'approval itself, a compare-and-set of the request with its audit record (one Lua call), before the same ' +
        '`queue.add` and worker pick-up. None of these can go: the approval must be recorded before the job may start.',
    );
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

  if (r.memory) p(`${MEMORY_MARKS.start}\n${renderMemorySection(r.memory, r)}${MEMORY_MARKS.end}\n`);
  if (r.moduleCosts) {
    const c = r.moduleCosts;
    p('### Where idle memory goes');
    p();
    p(
      'A fresh Node process with the same flags imports the libraries backout uses, one after the other; RSS after each, settled (this run). ' +
        'Imported raw, as listed: backout itself defers parts of them — `@slack/bolt` is loaded without its Socket Mode client ' +
        '(`@slack/socket-mode` and the `undici` package, about 20 MB, loaded only with SLACK_APP_TOKEN), its OAuth installer and its ' +
        'Express receiver (loaded only if used), and `@kubernetes/client-node` only for a kubeconfig context with a legacy auth-provider ' +
        'or a proxy-url (backout makes its Kubernetes calls itself):',
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
        last.rssMb > r.memory.idle.rssMb
          ? `Imported raw, the libraries alone take ${mb(last.rssMb)}; backout at idle holds ${mb(r.memory.idle.rssMb)}, its own code, connections, queues and workers included, because it leaves the deferred parts above unloaded and hands start-up's garbage back once it is up (src/observability/settle-memory.ts).`
          : `The libraries alone account for ${mb(last.rssMb)} of backout's ${mb(r.memory.idle.rssMb)} at idle; backout's own code, connections, queues and workers the remaining ${mb(r.memory.idle.rssMb - last.rssMb)}.`,
      );
    }
    p();
  }
  return `${out.join('\n')}\n`;
}

/** Section 1: every command at every concurrency, backout against both baselines. */
export function renderAckSection(ack: AckFigures, services: number): string {
  const out: string[] = [];
  const p = (line = '') => out.push(line);
  p('## 1. Slash-command acknowledgement at 1, 50 and 200 concurrent requests');
  p();
  p(
    'Signed slash commands sent by a load generator in its own process; latency = request sent → response read. ' +
      `Levels: ${ack.levels
        .map((l) =>
          l.concurrency === 1
            ? `1 (${l.perRound} requests to each target one after another, the targets taking turns request by request in an order that rotates, so that a spell of noise on the machine hits them alike; each sent once the one before was answered, and for backout once its response_url follow-up had come, then after ${IDLE_GAP_MS} ms with nothing sent, alike for every target, so that none is measured hot and another from idle; after a warm-up round of as many)`
            : `${l.concurrency} (${l.rounds} measured rounds of ${l.perRound} sent at once, after ${l.warmupRounds} warm-up rounds)`,
        )
        .join('; ')}. ` +
      'Baselines, each in its own process and sent the same requests: a bare Bolt app (`HTTPReceiver`, same signing ' +
      "secret, Bolt's defaults, `app.command('/rollback', async ({ ack }) => { await ack(); })`), and the floor, a plain " +
      '`node:http` server that reads the body, verifies the v0 signature and timestamp, and answers 200 (test/bench/bare-http.ts). ' +
      'At 50 and 200, rounds rotate between the three. After each backout round of a command answered later (history, the rollback) ' +
      'the bench waits for backout to finish answering through response_url, so rounds do not overlap. The Slack double ' +
      'counts `auth.test` calls made while each round runs: acknowledging needs no Web API call.',
  );
  p();
  p(
    '| Concurrency | Command | Implementation | n | mean | p50 | p99 | max | non-200 | `auth.test` per request |',
  );
  p('|---|---|---|---|---|---|---|---|---|---|');
  for (const s of ack.series) {
    for (const [i, t] of ack.targets.entries()) {
      const res = s.results.get(t.key);
      if (!res) continue;
      p(
        summaryRow(
          `${i === 0 ? `${s.concurrency} | \`/rollback ${s.text}\`` : ' | '} | ${t.label}`,
          res.latency,
          [String(res.errors), res.authTestsPerRequest.toFixed(2)],
        ),
      );
    }
    const pair = ackPair(s);
    if (pair) {
      p(
        `| | | ratio backout / bare Bolt | | ${ratio(pair.backout.mean, pair.bare.mean)} | ${ratio(pair.backout.p50, pair.bare.p50)} | ${ratio(pair.backout.p99, pair.bare.p99)} | ${ratio(pair.backout.max, pair.bare.max)} | | |`,
      );
      if (pair.http)
        p(
          `| | | ratio backout / plain node:http | | ${ratio(pair.backout.mean, pair.http.mean)} | ${ratio(pair.backout.p50, pair.http.p50)} | ${ratio(pair.backout.p99, pair.http.p99)} | ${ratio(pair.backout.max, pair.http.max)} | | |`,
        );
    }
  }
  p();
  for (const s of ack.series) {
    const pair = ackPair(s);
    if (!pair) continue;
    p(
      `- ${s.concurrency} concurrent, \`/rollback ${s.text}\`: ${ackVerdict(pair, s.concurrency)}.${s.unsettledRounds ? ` (${s.unsettledRounds} rounds did not settle before the next.)` : ''}`,
    );
  }
  p(
    '- backout answers slash commands and clicks in its own receiver (src/slack/receiver.ts) as soon as the signature ' +
      'checks out, with a body computed without I/O (usage errors, the help, the config checks), and hands the request to ' +
      "Bolt once a burst has been acknowledged; the slow part follows through response_url or the card. A help with nothing to look up and a usage error are answered in full by the acknowledgement and never reach Bolt. The help's list of " +
      `services (this config has ${services}) is computed from the config alone and cached per user; only user-group ` +
      'policies need a Slack look-up, whose result follows through response_url.',
  );
  p();
  return out.join('\n');
}

/** Section 4: idle RSS by role, growth over 1,000 jobs, and what a forced GC gives back. */
export function renderMemorySection(m: MemoryFigures, r: Pick<BenchReport, 'backout' | 'config'>): string {
  const out: string[] = [];
  const p = (line = '') => out.push(line);
  p('## 4. Resident memory');
  p();
  p(
    `Fresh backout processes (${r.backout.entry}, configured with ${r.config.memoryServices} services), RSS read from \`/proc/<pid>/status\` (VmRSS; MB = 10⁶ bytes). ` +
      'Idle = once start-up has settled (four readings 0.5 s apart within 1 MB). First a `BACKOUT_ROLE=web` process, idle, then stopped; ' +
      'then a role `all` process started with `--inspect-port=127.0.0.1:0` (no inspector runs until the bench sends SIGUSR1), idle; ' +
      'then the inspector is opened and a full GC forced (`HeapProfiler.collectGarbage`, twice) to read the live heap; then rounds of `/rollback <service>` for ' +
      `${m.perRound} services at once, each round on the next ${m.perRound} of the ${r.config.memoryServices - 1} services without approval ` +
      '(each service in its own channel, so each channel carries a few rollbacks and Slack’s pace per channel does not hold the bench up; a plain rollback flips between the two revisions), ' +
      `each round waiting until all its jobs ended, until ${m.jobs.toLocaleString('en')} jobs had completed: ${m.rounds} rounds in ${duration(m.elapsedMs)}; ` +
      'then the RSS, and again after a forced GC (Slack messages of those jobs still queued); then, once the outbox is empty (every card, reply ' +
      "and edit delivered: the jobs' work is done), after a forced GC again. That last figure is compared with the idle-after-GC one (both with the inspector open). " +
      'After the first round the bench also waits for the outbox to empty and forces a GC: this warm reading has every library the jobs use loaded and their code compiled, ' +
      'so comparing the last figure with it shows what 1,000 jobs left behind, apart from what the first jobs had to load. ' +
      'Each reading after a forced GC waits until RSS has been steady for 3.5 s (eight readings 0.5 s apart within 1 MB), ' +
      'because backout hands freed memory back once it has been quiet for 2 s after a collection. ' +
      'Where RSS lies is read from `/proc/<pid>/smaps` (the V8 figures from `process.memoryUsage()`).',
  );
  p();
  if (m.notStarted.size || m.failedJobs.size) {
    p('Commands that did not start a rollback (sent again in the same round) and jobs that failed:');
    p();
    for (const [text, n] of m.notStarted) p(`- ${n}× command answered: “${text}”`);
    for (const [text, n] of m.failedJobs) p(`- ${n}× job failed: “${text}”`);
    p();
  }
  p('| Reading | RSS | live heap (after GC) |');
  p('|---|---|---|');
  if (m.webIdle)
    p(
      `| Role \`web\`, idle after start-up (settled after ${duration(m.webIdle.waitedMs)}) | ${mb(m.webIdle.rssMb)} | |`,
    );
  p(
    `| Role \`all\`, idle after start-up (settled after ${duration(m.idle.waitedMs)}) | ${mb(m.idle.rssMb)} | |`,
  );
  p(
    `| Role \`all\`, idle, inspector open, after a forced GC | ${mb(m.idleGc.settledRssMb)} | ${mb(m.idleGc.heapUsedMb)} |`,
  );
  if (m.warmGc)
    p(
      `| Warm: after the first ${m.warmGc.jobs} jobs, outbox empty, after a forced GC | ${mb(m.warmGc.settledRssMb)} | ${mb(m.warmGc.heapUsedMb)} |`,
    );
  p(
    `| After ${m.jobs.toLocaleString('en')} rollback jobs (${m.afterJobs.settled ? `settled after ${duration(m.afterJobs.waitedMs)}` : `not settled after ${duration(m.afterJobs.waitedMs)}`}; ${m.notifyBacklog} Slack messages still in the outbox) | ${mb(m.afterJobs.rssMb)} | |`,
  );
  p(`| The same, after a forced GC | ${mb(m.afterGc.settledRssMb)} | ${mb(m.afterGc.heapUsedMb)} |`);
  const after = m.drainedGc ?? m.afterGc;
  if (m.drainedGc)
    p(
      `| Once the outbox was empty (${duration(m.drainedGc.drainedAfterMs)} later), after a forced GC | ${mb(m.drainedGc.settledRssMb)} | ${mb(m.drainedGc.heapUsedMb)} |`,
    );
  p(
    `| Ratio ${m.drainedGc ? 'outbox empty' : 'after the jobs'}, after GC / idle after GC | ${ratio(after.settledRssMb, m.idleGc.settledRssMb)} | ${ratio(after.heapUsedMb, m.idleGc.heapUsedMb)} |`,
  );
  if (m.warmGc)
    p(
      `| Ratio ${m.drainedGc ? 'outbox empty' : 'after the jobs'}, after GC / warm | ${ratio(after.settledRssMb, m.warmGc.settledRssMb)} | ${ratio(after.heapUsedMb, m.warmGc.heapUsedMb)} |`,
    );
  p(`| Peak during the run (VmHWM) | ${mb(m.afterJobs.peakMb)} | |`);
  p();
  renderWhereRss(p, m);
  p(
    `Verdict (role all idle < ${TARGETS.idleAllMb} MB, role web idle < ${TARGETS.idleWebMb} MB, after GC ≤ ${TARGETS.afterGcRatio}× idle): ${memoryVerdict(m)}. ` +
      `Issue 11's idle RSS < ${TARGETS.idleRssMb} MB (role all): ${m.idle.rssMb < TARGETS.idleRssMb ? '**met**' : '**gap**'}.`,
  );
  p();
  p(
    'Libraries are loaded by role and need: backout makes its Kubernetes calls itself, and loads `@kubernetes/client-node` ' +
      'only for a context with a legacy auth-provider or a proxy-url (src/integrations/kubernetes/clients.ts); the Socket Mode client (and the `undici` package it ' +
      "brings) only when SLACK_APP_TOKEN is set, and Bolt's OAuth installer and Express receiver never (src/slack/bolt-runtime.ts); " +
      'OpenTelemetry only when exporting. ' +
      "After a full collection, once its event loop is quiet, backout calls glibc's `malloc_trim(0)`, which hands back the pages freed in the middle of malloc's heap; " +
      "glibc by itself returns only the top of it (src/observability/return-freed-memory.ts). The forced collections of this bench trigger it as V8's own do.",
  );
  p();
  p(
    'Runs vary: in some, V8 keeps about 30 more of its 256 KB heap pages after the forced collection (about 7 MB more ' +
      '"other anonymous memory" above, the live heap unchanged), which puts the last reading near 1.2× idle. A compacting, ' +
      'last-resort collection hands them back (measured in one such run: 117.0 → 109.6 MB, a 72 ms pause); backout does not ' +
      'run one on its own after start-up, because that pause would land on whichever commands arrive during it.',
  );
  p();
  return out.join('\n');
}

/** Where the RSS of the GC'd readings lies: V8's heap, malloc, the node binary's pages. */
function renderWhereRss(p: (line?: string) => void, m: MemoryFigures): void {
  const columns = [
    { label: 'idle', reading: m.idleGc },
    ...(m.warmGc ? [{ label: `warm (${m.warmGc.jobs} jobs)`, reading: m.warmGc }] : []),
    ...(m.drainedGc ? [{ label: `after ${m.jobs.toLocaleString('en')} jobs`, reading: m.drainedGc }] : []),
  ];
  const row = (what: string, value: (r: (typeof columns)[number]['reading']) => number) =>
    p(`| ${what} | ${columns.map((c) => mb(value(c.reading))).join(' | ')} |`);
  p('Where the resident memory of those readings lies (after the forced GC):');
  p();
  p(`| | ${columns.map((c) => c.label).join(' | ')} |`);
  p(`|---|${columns.map(() => '---|').join('')}`);
  row('V8 heap, committed (`heapTotal`)', (r) => r.heapTotalMb);
  row('V8 external memory (`external`: buffers, external strings)', (r) => r.externalMb);
  row("glibc malloc's main arena (`[heap]`)", (r) => r.where.mallocMb);
  row("other anonymous memory (V8's heap pages and code, stacks)", (r) => r.where.anonymousMb);
  row("pages of the `node` binary (Node's and V8's code, ICU data)", (r) => r.where.binaryMb);
  row('other mapped files', (r) => r.where.filesMb);
  p();
}
