import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import { z } from 'zod';
import type { AuditLog } from '../audit/log.js';
import { formatDuration } from '../config/duration.js';
import { IntegrationError } from '../errors.js';
import type { StatusPage } from '../integrations/statuspage/types.js';
import type { Logger } from '../observability/logger.js';
import { cardKey } from '../requests/card-view.js';
import type { RequestStore } from '../requests/store.js';
import type { BackoutRequest } from '../requests/types.js';
import type { RedisClient } from '../redis/client.js';
import { esc } from '../slack/cards.js';
import type { Notifier } from '../slack/notifier.js';
import { alertRequestKey, STATUSPAGE_JOB } from './keys.js';
import { runScript } from '../redis/script.js';

/** Attempts of one pump: the first at once, then BullMQ's exponential backoff spread over `retryForMs`. */
export const STATUSPAGE_ATTEMPTS = 10;
const KEEP_S = 30 * 86_400;

const components = z.record(
  z.string(),
  z.enum(['operational', 'degraded_performance', 'partial_outage', 'major_outage']),
);
/** The incident to open. */
const opening = z.object({ name: z.string(), body: z.string(), components, by: z.string() });
/** The latest update wanted on the page; a higher rank is a later state of the job. */
const wanted = z.object({
  rank: z.number(),
  run: z.number(),
  action: z.string(),
  status: z.enum(['investigating', 'identified', 'monitoring', 'resolved']),
  body: z.string(),
  components: components.optional(),
  final: z.boolean(),
});
export type Opening = z.infer<typeof opening>;
export type Wanted = z.infer<typeof wanted>;

/**
 * Records what is wanted and names a pump job for it, or answers '' when there is nothing to do:
 * the incident is already open (or opening), no incident was opened to update, the page was
 * given up on, or a later state is already wanted. The same state asked for again (a job's start
 * or end told again after a crash, which may have struck between recording it and queueing its
 * pump) names a pump once more if nothing has posted it and no pump is at work.
 * KEYS: state, incident id. ARGV: 'open' | 'want', JSON, rank, TTL, request id, now.
 */
const OFFER = `
local function pump() return 'statuspage-' .. ARGV[5] .. '-' .. redis.call('HINCRBY', KEYS[1], 'offers', 1) end
local gaveUp = redis.call('HEXISTS', KEYS[1], 'gaveUp') == 1
local idle = not redis.call('HGET', KEYS[1], 'pump')
  or tonumber(redis.call('HGET', KEYS[1], 'pumpUntil') or '0') <= tonumber(ARGV[6])
local incident = redis.call('EXISTS', KEYS[2]) == 1
local opened = redis.call('HEXISTS', KEYS[1], 'open') == 1 or incident
if ARGV[1] == 'open' then
  if opened then
    if not incident and idle and not gaveUp then return pump() end
    return ''
  end
  redis.call('HSET', KEYS[1], 'open', ARGV[2])
else
  if not opened or gaveUp then return '' end
  local rank, wantRank = tonumber(ARGV[3]), tonumber(redis.call('HGET', KEYS[1], 'wantRank') or '-1')
  if rank < wantRank then return '' end
  if rank == wantRank then
    if idle and tonumber(redis.call('HGET', KEYS[1], 'sentRank') or '-1') < wantRank then return pump() end
    return ''
  end
  redis.call('HSET', KEYS[1], 'want', ARGV[2], 'wantRank', ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return pump()
`;

/** One pump per request at a time: 1 when ARGV[1] is (now) the one, 0 when another one still is. */
const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local pump = redis.call('HGET', KEYS[1], 'pump')
if pump == ARGV[1] then return 1 end
if pump and tonumber(redis.call('HGET', KEYS[1], 'pumpUntil') or '0') > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'pump', ARGV[1], 'pumpUntil', ARGV[3])
return 1
`;

/**
 * Lets go of the request when nothing is left that it can post (1); 0 when something came in
 * meanwhile. Given up, or no incident to update: nothing is left.
 */
const FINISH = `
if redis.call('HGET', KEYS[1], 'pump') ~= ARGV[1] then return 1 end
if redis.call('HEXISTS', KEYS[1], 'gaveUp') == 0 then
  local incident = redis.call('EXISTS', KEYS[2]) == 1
  if redis.call('HEXISTS', KEYS[1], 'open') == 1 and not incident then return 0 end
  if incident and tonumber(redis.call('HGET', KEYS[1], 'wantRank') or '-1') > tonumber(redis.call('HGET', KEYS[1], 'sentRank') or '-1') then return 0 end
end
redis.call('HDEL', KEYS[1], 'pump', 'pumpUntil')
return 1
`;

export interface StatusPageQueueDeps {
  statusPage: StatusPage;
  pageId: string;
  redis: RedisClient;
  prefix: string;
  /** The timers queue: pump jobs wait out a Statuspage outage there, across restarts. */
  timers: Pick<Queue, 'add'>;
  requests: Pick<RequestStore, 'get'>;
  audit: AuditLog;
  notifier: Notifier;
  log: Logger;
  /** How long a call is retried before the thread is told to post by hand. */
  retryForMs: number;
}

/**
 * Status page calls made durable. What is wanted (the incident to open, the latest update) is kept
 * in Redis, and a pump job on the timers queue posts it: create first, then the latest update
 * only, so a later state is never overwritten by an earlier one. One pump per request at a time;
 * a failed call is retried by BullMQ with exponential backoff for `retryForMs`, each attempt
 * audited, and the thread is told once when it is being retried and once when it went through or
 * was given up.
 */
export class StatusPageQueue {
  constructor(private readonly deps: StatusPageQueueDeps) {}

  private keys(requestId: string) {
    const base = alertRequestKey(this.deps.prefix, requestId);
    // The incident id keeps the key it always had, so an incident opened before an upgrade is still found.
    return { incident: `${base}:statuspage`, state: `${base}:statuspage:state` };
  }

  /** Whether an incident is open or being opened for the request. */
  async posted(requestId: string): Promise<boolean> {
    const k = this.keys(requestId);
    const [open, incident] = await Promise.all([
      this.deps.redis.hexists(k.state, 'open'),
      this.deps.redis.exists(k.incident),
    ]);
    return open === 1 || incident === 1;
  }

  /** Opens the incident (once per request). */
  open(requestId: string, what: Opening): Promise<boolean> {
    return this.offer(requestId, 'open', JSON.stringify(what), 0);
  }

  /** Posts `what` unless a later state is wanted already; nothing when no incident was opened. */
  update(requestId: string, what: Wanted): Promise<boolean> {
    return this.offer(requestId, 'want', JSON.stringify(what), what.rank);
  }

  private async offer(requestId: string, field: string, json: string, rank: number): Promise<boolean> {
    const k = this.keys(requestId);
    const pump = (await runScript(
      this.deps.redis,
      OFFER,
      2,
      k.state,
      k.incident,
      field,
      json,
      rank,
      KEEP_S,
      requestId,
      Date.now(),
    )) as string;
    if (!pump) return false;
    await this.deps.timers.add(
      STATUSPAGE_JOB,
      { requestId },
      {
        jobId: pump,
        attempts: STATUSPAGE_ATTEMPTS,
        // The delays before attempts 2..10 are base × (1 + 2 + … + 256) = base × 511 in all.
        backoff: { type: 'exponential', delay: Math.max(10, Math.round(this.deps.retryForMs / 511)) },
        removeOnComplete: true,
        removeOnFail: 100,
      },
    );
    return true;
  }

  /** Whether the update of `rank` (or a later one) is posted, or will not be soon (retrying, given up). */
  async settled(requestId: string, rank: number): Promise<boolean> {
    const [sent, failing, gaveUp] = await this.deps.redis.hmget(
      this.keys(requestId).state,
      'sentRank',
      'failingSince',
      'gaveUp',
    );
    return Number(sent ?? -1) >= rank || !!failing || !!gaveUp;
  }

  /** Runs one pump job: posts what is wanted until nothing is left. */
  async pump(job: Job<{ requestId?: string }>): Promise<void> {
    const { deps } = this;
    const requestId = job.data.requestId ?? '';
    const k = this.keys(requestId);
    const me = job.id ?? '';
    const now = Date.now();
    const claimed = await runScript(
      deps.redis,
      CLAIM,
      1,
      k.state,
      me,
      now,
      now + deps.retryForMs + 5 * 60_000,
    );
    // Another pump posts what this one was queued for.
    if (claimed !== 1) return;
    const request = await deps.requests.get(requestId);
    if (!request) {
      await deps.redis.del(k.state);
      return;
    }
    const attempt = job.attemptsMade + 1;
    for (;;) {
      const state = await deps.redis.hgetall(k.state);
      if (state.pump !== me) return;
      // Queued before the page was given up on: the thread has said to post by hand.
      if (state.gaveUp) {
        await runScript(deps.redis, FINISH, 2, k.state, k.incident, me);
        return;
      }
      const incidentId = await deps.redis.get(k.incident);
      const open = state.open ? opening.parse(JSON.parse(state.open)) : undefined;
      const want = state.want ? wanted.parse(JSON.parse(state.want)) : undefined;
      const late = state.failingSince ? Date.now() - Number(state.failingSince) : undefined;
      if (!incidentId && open) {
        await this.call(job, request, 'create incident', open.by, async () => {
          // An earlier attempt may have opened it and lost the answer (a timeout, a crash): look first.
          const found = state.createTriedAt
            ? await deps.statusPage.findOpen({ pageId: deps.pageId, requestId: request.id })
            : undefined;
          let id = found?.id;
          if (!id) {
            await deps.redis.hset(k.state, 'createTriedAt', String(Date.now()));
            ({ id } = await deps.statusPage.create({
              pageId: deps.pageId,
              requestId: request.id,
              name: open.name,
              status: 'identified',
              body: open.body,
              components: open.components,
            }));
          }
          await deps.redis.set(k.incident, id, 'EX', KEEP_S);
          return id;
        });
        await this.done(request, 'create incident', `${request.id}.statuspage.create`, attempt, late);
        continue;
      }
      if (incidentId && want && want.rank > Number(state.sentRank ?? -1)) {
        await this.call(job, request, want.action, 'backout', async () => {
          await deps.statusPage.update({
            pageId: deps.pageId,
            incidentId,
            status: want.status,
            body: want.body,
            ...(want.components ? { components: want.components } : {}),
          });
          await deps.redis.hset(k.state, 'sentRank', String(want.rank));
          return incidentId;
        });
        const key = want.final
          ? `${request.id}.r${want.run}.statuspage.${want.action.split(' ')[0]}`
          : `${request.id}.statuspage.recovered`;
        if (want.final || late !== undefined) await this.done(request, want.action, key, attempt, late);
        continue;
      }
      if ((await runScript(deps.redis, FINISH, 2, k.state, k.incident, me)) === 1) return;
    }
  }

  /** One call, audited; a failure is retried by BullMQ (the thread told once) or given up on. */
  private async call(
    job: Job,
    request: BackoutRequest,
    action: string,
    by: string,
    make: () => Promise<string>,
  ): Promise<void> {
    const { deps } = this;
    const attempt = job.attemptsMade + 1;
    let incidentId: string;
    try {
      incidentId = await make();
    } catch (err) {
      const error = (err as Error).message;
      await this.record(request, action, by, attempt, { ok: false, error });
      const retryable = !(err instanceof IntegrationError) || err.retryable;
      const k = this.keys(request.id);
      if (retryable && attempt < (job.opts.attempts ?? 1)) {
        await deps.redis.hsetnx(k.state, 'failingSince', Date.now());
        await deps.notifier.reply(cardKey(request.id), `${request.id}.statuspage.retrying`, {
          text: `:hourglass_flowing_sand: Status page: could not ${action} (${esc(error)}). It is retried in the background for up to ${formatDuration(deps.retryForMs)}; the ${jobWords(request)} is not held up by it. This thread says when it goes through.`,
        });
        throw err;
      }
      const since = Number((await deps.redis.hget(k.state, 'failingSince')) ?? Date.now());
      await deps.redis.multi().hset(k.state, 'gaveUp', '1').hdel(k.state, 'pump', 'pumpUntil').exec();
      deps.log.warn({ requestId: request.id, action, err: error }, 'status page call given up');
      await deps.notifier.reply(cardKey(request.id), `${request.id}.statuspage.given-up`, {
        text: `:warning: Status page: gave up on ${action} after ${attempt} attempt${attempt === 1 ? '' : 's'}${attempt > 1 ? ` over ${formatDuration(Date.now() - since)}` : ''} (${esc(error)}). The ${jobWords(request)} was not held up by it. Post it on the status page by hand (RUNBOOK.md, section 4.6); backout posts nothing more there for this request.`,
      });
      throw new UnrecoverableError(error);
    }
    await this.record(request, action, by, attempt, { ok: true, incidentId });
  }

  private async done(
    request: BackoutRequest,
    action: string,
    key: string,
    attempt: number,
    lateMs: number | undefined,
  ): Promise<void> {
    const incidentId = await this.deps.redis.get(this.keys(request.id).incident);
    const late =
      lateMs === undefined
        ? ''
        : ` after ${attempt} attempts (${formatDuration(lateMs)} late: Statuspage was failing)`;
    await this.deps.redis.hdel(this.keys(request.id).state, 'failingSince');
    await this.deps.notifier.reply(cardKey(request.id), key, {
      text: `:satellite_antenna: Status page: ${action} done${late} (incident \`${esc(incidentId ?? '?')}\`).`,
    });
  }

  private async record(
    request: BackoutRequest,
    action: string,
    by: string,
    attempt: number,
    result: Record<string, unknown>,
  ) {
    await this.deps.audit
      .append({
        type: 'statuspage.call',
        requestId: request.id,
        service: request.service,
        ...(request.environment ? { environment: request.environment } : {}),
        actor: by,
        details: { action, attempt, pageId: this.deps.pageId, ...result },
      })
      .catch((err: unknown) => this.deps.log.warn({ err }, 'could not audit a status page call'));
  }
}

/** The job, as the status page messages name it. */
export function jobWords(request: Pick<BackoutRequest, 'kind'>): string {
  switch (request.kind) {
    case 'rollback':
      return 'rollback';
    case 'flag':
      return 'flag change';
    case 'canary-abort':
      return 'canary abort';
    default:
      return 'job';
  }
}
