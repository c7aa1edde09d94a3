/**
 * Scale: backout with 2,000 services and 20,000 ReplicaSets of history (2,000 Deployments of ten
 * revisions each in the Kubernetes double), run as two web and two worker processes on one Redis
 * prefix, signed Slack requests sent round-robin to the two web processes by the load generator.
 *
 * 1. A single-incident baseline: one incident at a time (one `/rollback` that needs approval, its
 *    Approve click, the job to completion), the first a warm-up.
 * 2. A burst: 50 incidents on 50 services at once — 50 `/rollback` commands sent together, 50
 *    Approve clicks sent together once every card is up, every job to completion and every thread
 *    update through the Slack double's outbox.
 *
 * Ack = the signed command sent → its HTTP response read (load generator); approve → start = the
 * click sent (epoch ms, load generator) → the BullMQ job's `processedOn` (job id = request id).
 * Then no lost or doubled effect (one Deployment PATCH, one card per request, every request
 * succeeded, the audit chain intact with the same records per request) and Redis memory: INFO
 * `used_memory` and the sum of `MEMORY USAGE` over the prefix's keys, before and after, per request
 * and per audit record, with the key layout's growth; the same with 200 services on one process
 * for how it grows with the number of services.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { BotProcess } from '../kit/process.js';
import { findButton, newTriggerId } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';
import { deleteKeys, PEOPLE, SIGNING_SECRET, type World } from '../kit/world.js';
import type { RedisClient } from '../../src/redis/client.js';
import { scanKeys } from '../../src/redis/scan.js';
import { verifyChain, GENESIS_ANCHOR } from '../../src/audit/verify.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { freePort } from '../kit/process.js';
import { forkChild, LoadGenerator, writeMarkedSection } from './procs.js';
import { ms, ratio, summarize, type Summary } from './stats.js';
import { stepMeans, stepTotals, type StepTotals } from './metrics.js';

export const SCALE_SERVICES = 2_000;
export const SCALE_REVISIONS = 10;
export const SCALE_INCIDENTS = 50;
export const SMALL_SERVICES = 200;
const SMALL_INCIDENTS = 20;
const BASELINE_INCIDENTS = 6;
const BASELINE_WARMUP = 1;
export const SCALE_TARGET_RATIO = 1.5;
const NAMESPACE = 'scale';
const TICK_MS = 5;
/** Two worker processes × backout's job concurrency of 16 (src/app.ts). */
const WORKER_SLOTS = 2 * 16;
const MARK_START = '<!-- scale-bench:start -->';
const MARK_END = '<!-- scale-bench:end -->';
const FILED = /Filed `([a-z]{2}-[a-z0-9]{8})`/;
const TERMINAL = new Set(['succeeded', 'failed', 'rejected', 'expired', 'cancelled']);

export interface ScaleService {
  name: string;
  channel: string;
}

const pad = (i: number) => String(i).padStart(4, '0');

export const scaleServices: ScaleService[] = Array.from({ length: SCALE_SERVICES }, (_, i) => ({
  name: `sc-${pad(i + 1)}`,
  channel: `C0SCALE${pad(i + 1)}`,
}));

/** The bench's policy (approval required, two people) over `services`, each in its own channel. */
function scaleConfigYaml(services: ScaleService[]): string {
  return `
slack:
  incidentChannel: ${PEOPLE.incident}
policy:
  approvers: { users: [${PEOPLE.sre1}, ${PEOPLE.sre2}], usergroups: [${PEOPLE.oncallGroup}] }
  approval: required
  twoPerson: true
  approvalTtl: 15m
services:
${services
  .map(
    (s) => `  ${s.name}:
    environments:
      bench:
        default: true
        kubernetes: { context: prod, namespace: ${NAMESPACE}, deployment: ${s.name} }
        channel: ${s.channel}
        rollout: { timeout: 60s }
`,
  )
  .join('')}`;
}

interface Incident {
  service: ScaleService;
  web: BotProcess;
  id?: string;
  ackMs?: number;
  card?: { ts: string; actionId: string; blockId?: string; value?: string };
  clickSentAt?: number;
  clickAckMs?: number;
  startMs?: number;
  /** The job's `processedOn` and `finishedOn`. */
  processedOn?: number;
  finishedOn?: number;
  state?: string;
}

export interface IncidentFigures {
  incidents: number;
  ack: Summary;
  approveToStart: Summary;
  clickAck: Summary;
  /** The job's own run time, `finishedOn − processedOn`. */
  jobRun: Summary;
  /** Jobs that started after another job of the same run had finished: they may have waited for a free worker slot. */
  startedAfterAFinish: number;
  /** Approve → start of the jobs that started before any job of the run finished. */
  beforeAnyFinish: Summary;
  /** First command sent → last request finished, and → every thread update delivered. */
  finishedMs: number;
  settledMs: number;
}

export interface RedisFigures {
  requests: number;
  usedBefore: number;
  usedAfter: number;
  prefixBefore: number;
  prefixAfter: number;
  keysBefore: number;
  keysAfter: number;
  /** The audit stream: XLEN and MEMORY USAGE before and after. */
  auditBefore: { len: number; bytes: number };
  auditAfter: { len: number; bytes: number };
  /** Keys by pattern (request ids as `<id>`, channels as `<channel>`) that the requests added to. */
  growth: { pattern: string; keys: number; bytes: number }[];
}

export interface Checks {
  /** Deployment PATCHes per incident, by count (`1` → incidents with exactly one). */
  patches: Map<number, number>;
  /** Top-level messages per incident channel, by count. */
  cards: Map<number, number>;
  /** Thread replies per incident card: min and max. */
  replies: { min: number; max: number };
  /** Request end states, by state. */
  states: Map<string, number>;
  /** Audit records per request, by count; the chain's verification. */
  auditPerRequest: Map<number, number>;
  auditRecords: number;
  chain: string;
}

export interface ScaleBench {
  services: number;
  deployments: number;
  replicaSets: number;
  seedMs: number;
  startMs: number;
  processes: string;
  baseline: IncidentFigures;
  burst: IncidentFigures;
  checks: Checks;
  redis: RedisFigures;
  idle: { prefixBytes: number; keys: number };
  /** The same acknowledgements from two bare Bolt apps (one request at a time, then 50 at once, round-robin). */
  bareAck?: { single: Summary; burst: Summary };
  workerSlots: number;
  /** Mean duration of each job step (the workers' own histogram), single incidents and burst. */
  steps?: { step: string; single: number; burst: number }[];
  small?: {
    services: number;
    idle: { prefixBytes: number; keys: number };
    redis: RedisFigures;
    incidents: number;
  };
  durationMs: number;
}

interface Ctx {
  world: World;
  loadgen: LoadGenerator;
  redis: RedisClient;
  prefix: string;
  jobs: Queue;
  webs: BotProcess[];
  log: (line: string) => void;
}

function commandForm(s: ScaleService, responseUrl: string): Record<string, string> {
  return {
    token: 'verification-token-unused',
    team_id: 'T0000TEST',
    team_domain: 'backout-test',
    channel_id: s.channel,
    channel_name: s.channel.toLowerCase(),
    user_id: PEOPLE.requester,
    user_name: 'requester',
    command: '/rollback',
    text: `${s.name} --reason "scale bench"`,
    api_app_id: 'A0000APP',
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: newTriggerId(),
  };
}

/** A signed Approve click as Slack sends it (the shape SlackClient.blockAction builds). */
function clickForm(i: Incident, responseUrl: string): Record<string, string> {
  const card = i.card!;
  const user = PEOPLE.sre1;
  const payload = {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: 'T0000TEST' },
    api_app_id: 'A0000APP',
    token: 'verification-token-unused',
    container: { type: 'message', message_ts: card.ts, channel_id: i.service.channel, is_ephemeral: false },
    trigger_id: newTriggerId(),
    team: { id: 'T0000TEST', domain: 'backout-test' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: i.service.channel, name: i.service.channel.toLowerCase() },
    message: {
      type: 'message',
      ts: card.ts,
      text: '',
      user: 'U0000BOT',
      bot_id: 'B0000BOT',
      team: 'T0000TEST',
      blocks: [],
    },
    state: { values: {} },
    response_url: responseUrl,
    actions: [
      {
        type: 'button',
        action_id: card.actionId,
        block_id: card.blockId ?? 'actions',
        text: { type: 'plain_text', text: 'Approve', emoji: true },
        ...(card.value !== undefined ? { value: card.value } : {}),
        action_ts: `${(Date.now() / 1000).toFixed(6)}`,
      },
    ],
  };
  return { payload: JSON.stringify(payload) };
}

/** Sends one form per incident, all at once, round-robin over the web processes (one load-generator round each). */
async function sendAll(
  ctx: Ctx,
  incidents: Incident[],
  form: (i: Incident, responseUrl: string) => Record<string, string>,
): Promise<{ incident: Incident; ms: number; status: number; sentAt: number; responseUrl: string }[]> {
  const out: { incident: Incident; ms: number; status: number; sentAt: number; responseUrl: string }[] = [];
  await Promise.all(
    ctx.webs.map(async (web) => {
      const mine = incidents.filter((i) => i.web === web);
      if (mine.length === 0) return;
      const urls = mine.map(() => ctx.world.slack.newResponseUrl());
      const { results } = await ctx.loadgen.round(
        web.url,
        SIGNING_SECRET,
        mine.map((i, k) => form(i, urls[k]!)),
      );
      results.forEach((r, k) => {
        if (r.status !== 200)
          throw new Error(`${mine[k]!.service.name}: answered ${r.status} ${r.error ?? ''}`);
        out.push({
          incident: mine[k]!,
          ms: r.ms,
          status: r.status,
          sentAt: r.sentAt ?? 0,
          responseUrl: urls[k]!,
        });
      });
    }),
  );
  return out;
}

/** Runs `incidents` at once: commands, cards, clicks, jobs to completion, outbox drained. */
async function runIncidents(
  ctx: Ctx,
  services: ScaleService[],
): Promise<{ figures: IncidentFigures; incidents: Incident[] }> {
  const { world } = ctx;
  const incidents: Incident[] = services.map((service, k) => ({
    service,
    web: ctx.webs[k % ctx.webs.length]!,
  }));
  const started = Date.now();
  const filed = await sendAll(ctx, incidents, (i, url) => commandForm(i.service, url));
  for (const f of filed) f.incident.ackMs = f.ms;
  // Each command's answer (through response_url) names the request it filed.
  await waitFor(
    () => {
      let missing = 0;
      for (const f of filed) {
        if (f.incident.id) continue;
        const answer = world.slack.responses(f.responseUrl)[0];
        if (!answer) {
          missing++;
          continue;
        }
        const text = typeof answer.body.text === 'string' ? answer.body.text : JSON.stringify(answer.body);
        const id = FILED.exec(text)?.[1];
        if (!id) throw new Error(`/rollback ${f.incident.service.name} filed nothing: ${text.slice(0, 200)}`);
        f.incident.id = id;
      }
      return missing === 0;
    },
    { timeoutMs: 60_000, intervalMs: 25, what: 'every /rollback answer' },
  );
  // Each card, with its Approve button.
  await waitFor(
    () => {
      let missing = 0;
      for (const i of incidents) {
        if (i.card) continue;
        for (const m of world.slack.messages(i.service.channel)) {
          if (m.thread_ts || !JSON.stringify(m.blocks ?? []).includes('backout_approve')) continue;
          const button = findButton(m.blocks, 'backout_approve');
          if ((JSON.parse(button.value ?? '{}') as { r?: string }).r !== i.id) continue;
          i.card = { ts: m.ts, actionId: button.actionId, blockId: button.blockId, value: button.value };
        }
        if (!i.card) missing++;
      }
      return missing === 0;
    },
    { timeoutMs: 60_000, intervalMs: 50, what: 'every card' },
  );
  const clicks = await sendAll(ctx, incidents, clickForm);
  for (const c of clicks) {
    c.incident.clickSentAt = c.sentAt;
    c.incident.clickAckMs = c.ms;
  }
  // Every request to an end state.
  await waitFor(
    async () => {
      const pipe = ctx.redis.pipeline();
      for (const i of incidents) pipe.hget(`${ctx.prefix}:req:${i.id}`, 'state');
      const states = (await pipe.exec()) ?? [];
      states.forEach(([, state], k) => (incidents[k]!.state = String(state)));
      return incidents.every((i) => TERMINAL.has(i.state ?? ''));
    },
    { timeoutMs: 120_000, intervalMs: 100, what: 'every request to end' },
  );
  const finishedMs = Date.now() - started;
  for (const i of incidents) {
    const job = await ctx.jobs.getJob(i.id!);
    if (!job?.processedOn) throw new Error(`job ${i.id} has no processedOn`);
    i.startMs = job.processedOn - i.clickSentAt!;
    i.processedOn = job.processedOn;
    i.finishedOn = job.finishedOn;
  }
  const firstFinish = Math.min(...incidents.map((i) => i.finishedOn ?? Number.POSITIVE_INFINITY));
  const early = incidents.filter((i) => i.processedOn! < firstFinish);
  // Every thread update delivered: no entry left in the incident channels' outboxes.
  await waitFor(
    async () => {
      const pipe = ctx.redis.pipeline();
      for (const i of incidents) pipe.zcard(`${ctx.prefix}:notify:lanes:${i.service.channel}`);
      const counts = (await pipe.exec()) ?? [];
      return counts.every(([, n]) => Number(n) === 0);
    },
    { timeoutMs: 60_000, intervalMs: 100, what: 'the Slack outbox to drain' },
  );
  return {
    incidents,
    figures: {
      incidents: incidents.length,
      ack: summarize(incidents.map((i) => i.ackMs!)),
      approveToStart: summarize(incidents.map((i) => i.startMs!)),
      clickAck: summarize(incidents.map((i) => i.clickAckMs!)),
      jobRun: summarize(incidents.map((i) => i.finishedOn! - i.processedOn!)),
      startedAfterAFinish: incidents.length - early.length,
      beforeAnyFinish: summarize(early.map((i) => i.startMs!)),
      finishedMs,
      settledMs: Date.now() - started,
    },
  };
}

async function memoryUsage(redis: RedisClient, keys: string[]): Promise<number[]> {
  const out: number[] = [];
  for (let k = 0; k < keys.length; k += 500) {
    const pipe = redis.pipeline();
    for (const key of keys.slice(k, k + 500)) pipe.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    for (const [, bytes] of (await pipe.exec()) ?? []) out.push(Number(bytes ?? 0));
  }
  return out;
}

interface Snapshot {
  used: number;
  keys: Map<string, number>;
  audit: { len: number; bytes: number };
}

async function snapshot(redis: RedisClient, prefix: string): Promise<Snapshot> {
  const info = await redis.info('memory');
  const used = Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
  const names = await scanKeys(redis, `${prefix}:*`, 1000);
  const bytes = await memoryUsage(redis, names);
  const stream = `${prefix}:audit:stream`;
  const [len, streamBytes] = await Promise.all([
    redis.xlen(stream),
    redis.call('MEMORY', 'USAGE', stream, 'SAMPLES', '0') as Promise<number | null>,
  ]);
  return {
    used,
    keys: new Map(names.map((n, k) => [n, bytes[k]!])),
    audit: { len, bytes: Number(streamBytes ?? 0) },
  };
}

const total = (s: Snapshot) => [...s.keys.values()].reduce((n, b) => n + b, 0);

function patternOf(key: string, prefix: string, ids: Set<string>): string {
  return key
    .slice(prefix.length + 1)
    .replace(/[a-z]{2}-[a-z0-9]{8}/g, (m) => (ids.has(m) ? '<id>' : m))
    .replace(/C0SCALE\d{4}/g, '<channel>')
    .replace(/\b\d{10,}\b/g, '<n>');
}

function redisFigures(before: Snapshot, after: Snapshot, prefix: string, ids: Set<string>): RedisFigures {
  const growth = new Map<string, { keys: number; bytes: number }>();
  for (const [key, bytes] of after.keys) {
    const delta = bytes - (before.keys.get(key) ?? 0);
    const added = before.keys.has(key) ? 0 : 1;
    if (delta === 0 && added === 0) continue;
    const p = patternOf(key, prefix, ids);
    const g = growth.get(p) ?? { keys: 0, bytes: 0 };
    g.keys += added;
    g.bytes += delta;
    growth.set(p, g);
  }
  for (const [key, bytes] of before.keys) {
    if (after.keys.has(key)) continue;
    const p = patternOf(key, prefix, ids);
    const g = growth.get(p) ?? { keys: 0, bytes: 0 };
    g.keys -= 1;
    g.bytes -= bytes;
    growth.set(p, g);
  }
  return {
    requests: ids.size,
    usedBefore: before.used,
    usedAfter: after.used,
    prefixBefore: total(before),
    prefixAfter: total(after),
    keysBefore: before.keys.size,
    keysAfter: after.keys.size,
    auditBefore: before.audit,
    auditAfter: after.audit,
    growth: [...growth.entries()]
      .map(([pattern, g]) => ({ pattern, ...g }))
      .sort((a, b) => b.bytes - a.bytes),
  };
}

async function auditRecords(redis: RedisClient, prefix: string): Promise<AuditRecord[]> {
  const entries = await redis.xrange(`${prefix}:audit:stream`, '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('record') + 1]!) as AuditRecord);
}

function countBy<T>(values: T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return new Map([...m.entries()].sort());
}

async function checks(ctx: Ctx, incidents: Incident[]): Promise<Checks> {
  const { world } = ctx;
  const patches = incidents.map(
    (i) =>
      world.prod
        .patches('Deployment', i.service.name)
        .filter((r) => r.resource?.namespace === NAMESPACE && r.status < 300).length,
  );
  const cards = incidents.map(
    (i) => world.slack.messages(i.service.channel).filter((m) => !m.thread_ts).length,
  );
  const replies = incidents.map((i) => world.slack.thread(i.service.channel, i.card!.ts).length - 1);
  const records = await auditRecords(ctx.redis, ctx.prefix);
  const verified = verifyChain(records, GENESIS_ANCHOR);
  const perRequest = incidents.map((i) => records.filter((r) => r.requestId === i.id).length);
  return {
    patches: countBy(patches),
    cards: countBy(cards),
    replies: { min: Math.min(...replies), max: Math.max(...replies) },
    states: countBy(incidents.map((i) => i.state ?? 'unknown')),
    auditPerRequest: countBy(perRequest),
    auditRecords: records.length,
    chain: verified.ok
      ? `intact (${verified.records} records from genesis)`
      : `broken at record ${verified.index}: ${verified.problem}`,
  };
}

function seed(world: World, services: ScaleService[]): void {
  for (const s of services) {
    world.prod.addDeployment({
      namespace: NAMESPACE,
      name: s.name,
      replicas: 1,
      containers: Array.from({ length: SCALE_REVISIONS }, (_, r) => [
        { name: 'app', image: `scale/${s.name}:1.${r}.0` },
      ]),
    });
    world.prod.setRollout(NAMESPACE, s.name, { mode: 'converge', tickMs: TICK_MS });
  }
}

/**
 * Reference for the acknowledgement ratio: two bare Bolt apps (acknowledge only) sent the same
 * `/rollback` forms, one at a time and then all at once, round-robin, by the same load generator.
 */
async function bareAck(
  world: World,
  loadgen: LoadGenerator,
  services: ScaleService[],
  singles: number,
): Promise<{ single: Summary; burst: Summary }> {
  const apps = await Promise.all(
    [0, 1].map(async () => {
      const port = await freePort();
      const child = await forkChild('bare-bolt.ts', {
        BENCH_PORT: String(port),
        BENCH_SIGNING_SECRET: SIGNING_SECRET,
        BENCH_SLACK_API_URL: world.slack.apiUrl,
      });
      return { child, url: `http://127.0.0.1:${port}/slack/events` };
    }),
  );
  try {
    const form = (s: ScaleService) => commandForm(s, world.slack.newResponseUrl());
    const single: number[] = [];
    for (let k = 0; k < singles + BASELINE_WARMUP; k++) {
      const { results } = await loadgen.round(apps[k % 2]!.url, SIGNING_SECRET, [form(services[k]!)]);
      if (k >= BASELINE_WARMUP) single.push(results[0]!.ms);
    }
    const rounds = await Promise.all(
      apps.map((app, a) =>
        loadgen.round(app.url, SIGNING_SECRET, services.filter((_, k) => k % 2 === a).map(form)),
      ),
    );
    const burst = rounds.flatMap((r) => r.results.map((x) => x.ms));
    return { single: summarize(single), burst: summarize(burst) };
  } finally {
    await Promise.all(apps.map((a) => a.child.stop()));
  }
}

/** Both workers' step histograms, added together. */
async function workerSteps(workers: BotProcess[]): Promise<StepTotals> {
  const sum: StepTotals = new Map();
  for (const w of workers) {
    for (const [step, t] of await stepTotals(`http://127.0.0.1:${w.port}/metrics`)) {
      const e = sum.get(step) ?? { sum: 0, count: 0 };
      sum.set(step, { sum: e.sum + t.sum, count: e.count + t.count });
    }
  }
  return sum;
}

async function idleFootprint(
  redis: RedisClient,
  prefix: string,
): Promise<{ prefixBytes: number; keys: number }> {
  const s = await snapshot(redis, prefix);
  return { prefixBytes: total(s), keys: s.keys.size };
}

export async function benchScale(opts: {
  world: World;
  /** Starts a backout process (tracked and cleaned up by the caller). */
  spawn: (env: Record<string, string>) => Promise<BotProcess>;
  stop: (bot: BotProcess) => Promise<void>;
  /** Two unique Redis prefixes: the 2,000-service run and the 200-service one. */
  prefixes: { big: string; small: string };
  log: (line: string) => void;
}): Promise<ScaleBench> {
  const { world, log } = opts;
  const t0 = Date.now();
  const redis = world.redis;
  const seedStarted = performance.now();
  seed(world, scaleServices);
  const seedMs = performance.now() - seedStarted;
  const replicaSets = world.prod.list('ReplicaSet', NAMESPACE).length;
  log(
    `  seeded ${scaleServices.length} Deployments, ${replicaSets} ReplicaSets in ${(seedMs / 1000).toFixed(1)} s`,
  );
  const bigConfig = join(world.dir, 'backout-scale.yml');
  writeFileSync(bigConfig, scaleConfigYaml(scaleServices));
  const smallConfig = join(world.dir, 'backout-scale-small.yml');
  writeFileSync(smallConfig, scaleConfigYaml(scaleServices.slice(0, SMALL_SERVICES)));

  const loadgen = await LoadGenerator.start();
  const bots: BotProcess[] = [];
  const queues: Queue[] = [];
  try {
    const env = (prefix: string, config: string, role: string) => ({
      BACKOUT_PREFIX: prefix,
      BACKOUT_CONFIG: config,
      BACKOUT_ROLE: role,
      AUDIT_LOG_DIR: join(world.dir, `audit-${prefix}`),
    });
    const startStarted = performance.now();
    const started = await Promise.all(
      ['web', 'web', 'worker', 'worker'].map((role) => opts.spawn(env(opts.prefixes.big, bigConfig, role))),
    );
    bots.push(...started);
    const startMs = performance.now() - startStarted;
    log(`  2 web + 2 worker processes ready in ${(startMs / 1000).toFixed(1)} s`);
    const jobs = new Queue('jobs', { connection: redis, prefix: opts.prefixes.big });
    queues.push(jobs);
    const ctx: Ctx = {
      world,
      loadgen,
      redis,
      prefix: opts.prefixes.big,
      jobs,
      webs: started.slice(0, 2),
      log,
    };
    const idle = await idleFootprint(redis, opts.prefixes.big);

    const workers = started.slice(2);
    const steps0 = await workerSteps(workers).catch(() => undefined);
    // 1. One incident at a time.
    const single: Incident[] = [];
    const warmups: Incident[] = [];
    const baselineServices = scaleServices.slice(0, BASELINE_INCIDENTS);
    for (const [k, service] of baselineServices.entries()) {
      // Alternate the web process as the burst does.
      const run = await runIncidents({ ...ctx, webs: [ctx.webs[k % 2]!] }, [service]);
      (k >= BASELINE_WARMUP ? single : warmups).push(...run.incidents);
      log(
        `  single incident ${k + 1}: ack ${ms(run.figures.ack.p50)}, approve → start ${ms(run.figures.approveToStart.p50)}`,
      );
    }
    const baseline: IncidentFigures = {
      incidents: single.length,
      ack: summarize(single.map((i) => i.ackMs!)),
      approveToStart: summarize(single.map((i) => i.startMs!)),
      clickAck: summarize(single.map((i) => i.clickAckMs!)),
      jobRun: summarize(single.map((i) => i.finishedOn! - i.processedOn!)),
      startedAfterAFinish: 0,
      beforeAnyFinish: summarize(single.map((i) => i.startMs!)),
      finishedMs: Number.NaN,
      settledMs: Number.NaN,
    };

    // 2. Fifty at once, on services spread over the config.
    const step = Math.floor((SCALE_SERVICES - SMALL_SERVICES) / SCALE_INCIDENTS);
    const burstServices = Array.from(
      { length: SCALE_INCIDENTS },
      (_, k) => scaleServices[SMALL_SERVICES + k * step]!,
    );
    const steps1 = await workerSteps(workers).catch(() => undefined);
    const before = await snapshot(redis, opts.prefixes.big);
    const burstRun = await runIncidents(ctx, burstServices);
    const after = await snapshot(redis, opts.prefixes.big);
    const steps2 = await workerSteps(workers).catch(() => undefined);
    let steps: ScaleBench['steps'];
    if (steps0 && steps1 && steps2) {
      // The warm-up incident is in the single figures too.
      const single = new Map(stepMeans(steps0, steps1).map((m) => [m.step, m.meanMs]));
      steps = stepMeans(steps1, steps2).map((m) => ({
        step: m.step,
        single: single.get(m.step) ?? NaN,
        burst: m.meanMs,
      }));
    }
    const burst = burstRun.figures;
    log(
      `  ${burst.incidents} at once: ack p50 ${ms(burst.ack.p50)} p99 ${ms(burst.ack.p99)}, approve → start p50 ${ms(burst.approveToStart.p50)} p99 ${ms(burst.approveToStart.p99)}; all finished in ${(burst.finishedMs / 1000).toFixed(1)} s`,
    );
    const ids = new Set(burstRun.incidents.map((i) => i.id!));
    const redisBig = redisFigures(before, after, opts.prefixes.big, ids);
    const checked = await checks(ctx, [...warmups, ...single, ...burstRun.incidents]);
    await Promise.all(bots.splice(0).map((b) => opts.stop(b)));
    const bare = await bareAck(world, loadgen, burstServices, BASELINE_INCIDENTS - BASELINE_WARMUP);
    log(
      `  bare Bolt ×2: ack single p50 ${ms(bare.single.p50)} p99 ${ms(bare.single.p99)}, ${burstServices.length} at once p50 ${ms(bare.burst.p50)} p99 ${ms(bare.burst.p99)}`,
    );

    // 3. The same on 200 services and one process (role all): how Redis grows with services.
    let small: ScaleBench['small'];
    {
      const bot = await opts.spawn(env(opts.prefixes.small, smallConfig, 'all'));
      bots.push(bot);
      const smallJobs = new Queue('jobs', { connection: redis, prefix: opts.prefixes.small });
      queues.push(smallJobs);
      const smallCtx: Ctx = { ...ctx, prefix: opts.prefixes.small, jobs: smallJobs, webs: [bot] };
      const smallIdle = await idleFootprint(redis, opts.prefixes.small);
      // Services this run has not touched yet (the baseline used the first few, the burst those after the first 200).
      const services = scaleServices.slice(SMALL_SERVICES - SMALL_INCIDENTS, SMALL_SERVICES);
      const sBefore = await snapshot(redis, opts.prefixes.small);
      const run = await runIncidents(smallCtx, services);
      const sAfter = await snapshot(redis, opts.prefixes.small);
      small = {
        services: SMALL_SERVICES,
        idle: smallIdle,
        incidents: run.figures.incidents,
        redis: redisFigures(sBefore, sAfter, opts.prefixes.small, new Set(run.incidents.map((i) => i.id!))),
      };
      log(`  ${SMALL_SERVICES} services: ${run.figures.incidents} incidents finished`);
    }
    return {
      services: scaleServices.length,
      deployments: scaleServices.length,
      replicaSets,
      seedMs,
      startMs,
      processes: '2 × `BACKOUT_ROLE=web` + 2 × `BACKOUT_ROLE=worker`',
      baseline,
      burst,
      checks: checked,
      bareAck: bare,
      workerSlots: WORKER_SLOTS,
      steps,
      redis: redisBig,
      idle,
      small,
      durationMs: Date.now() - t0,
    };
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    await Promise.all(bots.map((b) => opts.stop(b)));
    await loadgen.child.stop();
    await deleteKeys(redis, opts.prefixes.big);
    await deleteKeys(redis, opts.prefixes.small);
  }
}

// -- the section of BENCHMARKS.md ----------------------------------------------------------------

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const bytesOf = (n: number) => (Math.abs(n) >= 10_240 ? kb(n) : `${Math.round(n)} B`);

function ratioVerdict(burst: number, single: number): { text: string; met: boolean } {
  const r = burst / single;
  const met = Number.isFinite(r) && r <= SCALE_TARGET_RATIO;
  return { text: ratio(burst, single), met };
}

function counts(m: Map<number | string, number>, unit: string): string {
  return [...m.entries()].map(([k, n]) => `${n} with ${k} ${unit}`).join(', ');
}

export function renderScaleBench(b: ScaleBench | undefined, failure?: string): string {
  const lines: string[] = [MARK_START, '## Scale: 2,000 services, 50 incidents at once', ''];
  const p = (line = '') => lines.push(line);
  if (!b) {
    p(`**Not measured** in this run${failure ? `: ${failure.replace(/\n[\s\S]*/, '')}` : ''}.`);
    p(MARK_END);
    return lines.join('\n');
  }
  p(
    `A config of ${b.services.toLocaleString('en')} services (approval required, two people; each service in its own channel), their ` +
      `${b.deployments.toLocaleString('en')} Deployments seeded in the Kubernetes double with ${SCALE_REVISIONS} revisions each ` +
      `(${b.replicaSets.toLocaleString('en')} ReplicaSets, seeded in ${(b.seedMs / 1000).toFixed(1)} s). backout runs as ${b.processes} ` +
      `(built output, ready in ${(b.startMs / 1000).toFixed(1)} s) on one Redis prefix; the load generator sends the signed Slack requests ` +
      'round-robin to the two web processes. An incident = `/rollback <service>` → its card → an Approve click → the rollback job ' +
      `to completion. Baseline: one incident at a time (${b.baseline.incidents} measured after ${BASELINE_WARMUP} warm-up; with so few, its p99 is their maximum), same processes, same run. ` +
      `Burst: ${b.burst.incidents} incidents on ${b.burst.incidents} services at once — the ${b.burst.incidents} commands sent together, then, once every ` +
      `card was up, the ${b.burst.incidents} clicks together. Ack = command sent → HTTP response read; approve → start = click sent → the BullMQ ` +
      `job's \`processedOn\` (job id = request id). Target: burst within ${SCALE_TARGET_RATIO}× of the single-incident figure.`,
  );
  p();
  p('| | single incident p50 | p99 | burst p50 | p99 | ratio p50 | ratio p99 | verdict |');
  p('|---|---|---|---|---|---|---|---|');
  const verdicts: string[] = [];
  for (const [label, pick] of [
    ['`/rollback` ack', (f: IncidentFigures) => f.ack],
    ['Approve → job start', (f: IncidentFigures) => f.approveToStart],
    ["(for reference) the click's HTTP ack", (f: IncidentFigures) => f.clickAck],
  ] as const) {
    const s = pick(b.baseline);
    const u = pick(b.burst);
    const r50 = ratioVerdict(u.p50, s.p50);
    const r99 = ratioVerdict(u.p99, s.p99);
    const reference = label.startsWith('(');
    const met = r50.met && r99.met;
    const verdict = reference
      ? '—'
      : met
        ? '**met**'
        : `**gap**: ${[!r50.met ? `p50 ${r50.text}` : '', !r99.met ? `p99 ${r99.text}` : ''].filter(Boolean).join(', ')} (target ≤ ${SCALE_TARGET_RATIO}×)`;
    if (!reference) verdicts.push(`${label}: ${met ? 'met' : 'gap'}`);
    p(
      `| ${label} | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(u.p50)} | ${ms(u.p99)} | ${r50.text} | ${r99.text} | ${verdict} |`,
    );
  }
  if (b.bareAck) {
    const a = b.bareAck;
    p(
      `| (reference) two bare Bolt apps, the same \`/rollback\` forms, acknowledge only | ${ms(a.single.p50)} | ${ms(a.single.p99)} | ${ms(a.burst.p50)} | ${ms(a.burst.p99)} | ${ratio(a.burst.p50, a.single.p50)} | ${ratio(a.burst.p99, a.single.p99)} | — |`,
    );
  }
  const u = b.burst;
  p(
    `| (reference) approve → start of the ${u.beforeAnyFinish.n} jobs that started before any burst job finished | ${ms(b.baseline.approveToStart.p50)} | ${ms(b.baseline.approveToStart.p99)} | ${ms(u.beforeAnyFinish.p50)} | ${ms(u.beforeAnyFinish.p99)} | ${ratio(u.beforeAnyFinish.p50, b.baseline.approveToStart.p50)} | ${ratio(u.beforeAnyFinish.p99, b.baseline.approveToStart.p99)} | — |`,
  );
  p(
    `| (reference) the job's own run time, \`finishedOn − processedOn\` | ${ms(b.baseline.jobRun.p50)} | ${ms(b.baseline.jobRun.p99)} | ${ms(u.jobRun.p50)} | ${ms(u.jobRun.p99)} | ${ratio(u.jobRun.p50, b.baseline.jobRun.p50)} | ${ratio(u.jobRun.p99, b.baseline.jobRun.p99)} | — |`,
  );
  p();
  p(
    `Where the time goes: the two worker processes have ${b.workerSlots} job slots between them (concurrency 16 each) for ${u.incidents} jobs; ` +
      `${u.startedAfterAFinish} of the ${u.incidents} jobs started only after another burst job had finished, so the approve → start tail is ` +
      'mostly waiting for a free slot behind whole rollbacks, whose own run time grows as 50 run at once on two shared cores. ' +
      'The acknowledgements queue on the two web processes, each taking its 25 requests one after another on one core; the bare Bolt ' +
      'apps, which do nothing but verify and acknowledge, show how much of that ratio any Node HTTP server has on this machine.',
  );
  p();
  if (b.steps?.length) {
    p(
      "The job's steps, mean duration from the workers' own `backout_step_duration_seconds` (single incidents including the warm-up):",
    );
    p();
    p('| Step | single | burst | ratio |');
    p('|---|---|---|---|');
    for (const st of b.steps)
      p(`| ${st.step} | ${ms(st.single)} | ${ms(st.burst)} | ${ratio(st.burst, st.single)} |`);
    p();
  }
  p(
    `The burst: every request ended ${(b.burst.finishedMs / 1000).toFixed(1)} s after the first command was sent, and every thread update ` +
      `had left the outbox ${(b.burst.settledMs / 1000).toFixed(1)} s after it.`,
  );
  p();
  const c = b.checks;
  const all = b.baseline.incidents + BASELINE_WARMUP + b.burst.incidents;
  const exactlyOne = (m: Map<number, number>) => m.get(1) === all && m.size === 1;
  p(`No lost or doubled effect, over all ${all} incidents of the run:`);
  p();
  p('| Check | Result | |');
  p('|---|---|---|');
  p(
    `| Deployment PATCHes per incident (Kubernetes double's request log) | ${counts(c.patches, 'PATCH')} | ${exactlyOne(c.patches) ? 'ok' : '**not one each**'} |`,
  );
  p(
    `| Top-level messages (cards) per incident channel | ${counts(c.cards, 'card')} | ${exactlyOne(c.cards) ? 'ok' : '**not one each**'} |`,
  );
  p(
    `| Thread replies per card | ${c.replies.min === c.replies.max ? c.replies.min : `${c.replies.min}–${c.replies.max}`} | |`,
  );
  const succeeded = c.states.get('succeeded') === all && c.states.size === 1;
  p(
    `| Request end states | ${[...c.states.entries()].map(([s, n]) => `${n} ${s}`).join(', ')} | ${succeeded ? 'ok' : '**not all succeeded**'} |`,
  );
  p(
    `| Audit records per request | ${counts(c.auditPerRequest, 'records')} | ${c.auditPerRequest.size === 1 ? 'ok' : '**uneven**'} |`,
  );
  p(
    `| Audit chain (${c.auditRecords} records in the stream) | ${c.chain} | ${c.chain.startsWith('intact') ? 'ok' : '**broken**'} |`,
  );
  p();
  const r = b.redis;
  const perRequest = (x: RedisFigures) => (x.prefixAfter - x.prefixBefore) / x.requests;
  const auditPer = (x: RedisFigures) =>
    (x.auditAfter.bytes - x.auditBefore.bytes) / Math.max(1, x.auditAfter.len - x.auditBefore.len);
  p(
    `Redis memory around the burst (after every request ended and the outbox drained). \`used_memory\` is the whole server's (INFO memory; ` +
      'anything else using this Redis moves it too); the prefix figure is the sum of `MEMORY USAGE <key> SAMPLES 0` over every key under ' +
      "backout's prefix, which only backout writes.",
  );
  p();
  p('| | before | after | growth | per finished request |');
  p('|---|---|---|---|---|');
  p(
    `| \`used_memory\` (server) | ${kb(r.usedBefore)} | ${kb(r.usedAfter)} | ${bytesOf(r.usedAfter - r.usedBefore)} | ${bytesOf((r.usedAfter - r.usedBefore) / r.requests)} |`,
  );
  p(
    `| backout's keys (${r.keysBefore} → ${r.keysAfter}) | ${kb(r.prefixBefore)} | ${kb(r.prefixAfter)} | ${bytesOf(r.prefixAfter - r.prefixBefore)} | ${bytesOf(perRequest(r))} |`,
  );
  p(
    `| audit stream (XLEN ${r.auditBefore.len} → ${r.auditAfter.len}) | ${kb(r.auditBefore.bytes)} | ${kb(r.auditAfter.bytes)} | ${bytesOf(r.auditAfter.bytes - r.auditBefore.bytes)} | ${bytesOf(auditPer(r))} per audit record |`,
  );
  p();
  p(
    'The audit stream and the `notify:events` / `jobs:events` streams are the bulk: BullMQ caps its event streams (10,000 entries by ' +
      'default), so those stop growing; the audit stream keeps every record until archived. A request’s own keys (`req:<id>`, ' +
      '`jobs:<id>`, `notify:content:<id>.*`) expire with its retention.',
  );
  p();
  p(
    `Where the growth is, by key pattern (\`<id>\` = one of the burst's request ids, \`<channel>\` = a service's channel):`,
  );
  p();
  p('| Key pattern | keys added | bytes added | per request |');
  p('|---|---|---|---|');
  for (const g of r.growth.slice(0, 14)) {
    p(`| \`${g.pattern}\` | ${g.keys} | ${bytesOf(g.bytes)} | ${bytesOf(g.bytes / r.requests)} |`);
  }
  if (r.growth.length > 14) p(`| (${r.growth.length - 14} more patterns) | | | |`);
  p();
  if (b.small) {
    const s = b.small;
    p(
      `The same with ${s.services} services (the first ${s.services} of the config) on one process (role \`all\`), ${s.incidents} incidents at once, in the same run:`,
    );
    p();
    p(`| Services | backout's keys at idle | bytes at idle | per finished request | per audit record |`);
    p('|---|---|---|---|---|');
    p(
      `| ${b.services.toLocaleString('en')} | ${b.idle.keys} | ${kb(b.idle.prefixBytes)} | ${bytesOf(perRequest(r))} | ${bytesOf(auditPer(r))} |`,
    );
    p(
      `| ${s.services} | ${s.idle.keys} | ${kb(s.idle.prefixBytes)} | ${bytesOf(perRequest(s.redis))} | ${bytesOf(auditPer(s.redis))} |`,
    );
    p();
  }
  p(`Verdicts: ${verdicts.join('; ')}. Phase took ${(b.durationMs / 1000).toFixed(0)} s (seeding included).`);
  p(MARK_END);
  return lines.join('\n');
}

/** Puts the section into BENCHMARKS.md, replacing an earlier one. */
export function writeScaleSection(markdown: string): void {
  writeMarkedSection(markdown, MARK_START, MARK_END);
}
