import { z } from 'zod';
import type { RedisAuditLog } from '../audit/log.js';
import type { AlertRule } from '../config/alerts-schema.js';
import type { Config } from '../config/model.js';
import type { Silences, SilenceMatcher } from '../integrations/alerts/silences.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { STEP_RUN_DEADLINE_MS } from '../queue/step-runner.js';
import { cardKey } from '../requests/card-view.js';
import type { RequestStore } from '../requests/store.js';
import type { BackoutRequest } from '../requests/types.js';
import type { RedisClient } from '../redis/client.js';
import { esc } from '../slack/cards.js';
import type { Notifier } from '../slack/notifier.js';
import { slackDate } from '../text/time.js';
import { alertRequestKey, observedEndKey } from './keys.js';
import { UsageError } from '../errors.js';
import type { FinishedStep, JobLifecycle } from './lifecycle.js';
import { StatusPagePoster } from './status-post.js';
import type { StatusPageQueue } from './status-queue.js';
import { buildTimeline, relatedRecords, STAGES, type Timeline } from './timeline.js';
import { timelineReply } from './timeline-text.js';

/** What bounds a job's run, read from its plan: the rollout timeout and the stability window. */
const planBounds = z.object({
  timeoutMs: z.number().optional(),
  health: z.object({ stabilityWindow: z.number().optional() }).optional(),
});

/** Records read for a timeline at most: a job's end stays cheap however busy the audit stream is. */
const TIMELINE_RECORDS = 5_000;
/** How long a run's end is remembered as observed, so a re-told end does not count twice. */
const OBSERVED_TTL_S = 7 * 86_400;

export interface FollowDeps {
  config: Config;
  redis: RedisClient;
  prefix: string;
  audit: Pick<RedisAuditLog, 'append' | 'readStreamText' | 'readLast'>;
  requests: Pick<RequestStore, 'auditStart'>;
  notifier: Notifier;
  silences?: Silences;
  /** Set when a status page is configured (STATUSPAGE_API_KEY and alerts.statusPage.pageId). */
  statusPages?: StatusPageQueue;
  metrics: Metrics;
  log: Logger;
}

/**
 * Around every job: at its end, the timeline in its thread from the audit log (a group's parent
 * covering its children), with its stage durations in backout_time_to_mitigate_seconds. Around the
 * job of an alert's proposal also a silence while it rolls out (expired when it ends, never
 * outliving it) and the status page kept up to date off the job's path.
 */
export class IncidentFollower implements JobLifecycle {
  private readonly posts: StatusPagePoster | undefined;

  constructor(private readonly deps: FollowDeps) {
    this.posts = deps.statusPages ? new StatusPagePoster(deps.statusPages) : undefined;
  }

  private async meta(request: BackoutRequest) {
    const m = await this.deps.redis.hgetall(alertRequestKey(this.deps.prefix, request.id));
    if (!m.rule) return undefined;
    const rule = this.deps.config.alertRules.find((r) => r.name === m.rule);
    return { rule, firstSeq: Number(m.firstSeq ?? 1), alertname: m.alertname ?? '', value: m.value ?? '' };
  }

  async started(request: BackoutRequest): Promise<void> {
    const meta = await this.meta(request);
    if (!meta?.rule) return;
    if (meta.rule.statusPage?.auto && this.posts)
      await this.posts.opened(request, meta.rule, meta, 'backout');
    if (meta.rule.silence && this.deps.silences) await this.silence(request, meta.rule);
  }

  async stepFinished(request: BackoutRequest, step: FinishedStep): Promise<void> {
    // Only alert proposals have a status page incident: no status page, nothing to look up.
    if (!this.posts) return;
    const meta = await this.meta(request);
    if (meta?.rule?.statusPage) await this.posts.progressed(request, step);
  }

  async ended(request: BackoutRequest): Promise<void> {
    const meta = await this.meta(request);
    if (meta) {
      await this.unsilence(request);
      if (meta.rule?.statusPage && this.posts) await this.posts.closed(request, meta.rule);
    }
    // A child (a retraction's rollback, a group's member) is in its parent's timeline.
    if (request.parentId) return;
    const timeline = await this.timeline(request, meta?.firstSeq);
    if (request.mutating && (await this.firstEnd(request))) {
      for (const s of STAGES) {
        const v = timeline.stages[s];
        // alert → proposal was observed when the proposal was filed.
        if (v !== undefined && s !== 'alert_to_proposal')
          this.deps.metrics.timeToMitigate.observe({ stage: s }, v);
      }
    }
    await this.deps.notifier.reply(
      cardKey(request.id),
      `${request.id}.timeline.r${request.run}`,
      timelineReply(timeline),
    );
  }

  /** From where the request's records start (its alert's, else its own request.created), capped. */
  private async timeline(request: BackoutRequest, alertSeq?: number): Promise<Timeline> {
    const own = await this.deps.requests.auditStart(request.id);
    const from = Math.min(alertSeq ?? Infinity, own ?? Infinity);
    // Filed before where it starts was kept: the latest records are the likeliest to hold it.
    const records = Number.isFinite(from)
      ? relatedRecords(await this.deps.audit.readStreamText(from, TIMELINE_RECORDS), [request.id])
      : await this.deps.audit.readLast(TIMELINE_RECORDS);
    const ended = records.some(
      (r) => r.requestId === request.id && (r.type === 'job.succeeded' || r.type === 'job.failed'),
    );
    return buildTimeline(records, [request.id], { partial: !ended });
  }

  /** True the first time a run's end is seen (its stages are observed once, however often it is told). */
  private async firstEnd(request: BackoutRequest): Promise<boolean> {
    const key = observedEndKey(this.deps.prefix, request.id, request.run);
    return (await this.deps.redis.set(key, '1', 'EX', OBSERVED_TTL_S, 'NX')) === 'OK';
  }

  /** The thread's "Post to status page" button: opens the drafted incident now (the clicker's rights are checked before). */
  async postFromCard(request: BackoutRequest, user: string): Promise<{ ok: boolean; message: string }> {
    const meta = await this.meta(request);
    if (!meta?.rule?.statusPage || !this.posts)
      throw new UsageError(
        'No status page is configured for this request (a rule’s statusPage, alerts.statusPage.pageId and STATUSPAGE_API_KEY), so nothing was posted.',
      );
    if (await this.posts.posted(request.id))
      return {
        ok: false,
        message: 'The status page incident for this request is already posted; nothing more was done.',
      };
    await this.posts.opened(request, meta.rule, meta, user);
    return {
      ok: true,
      message:
        'Posting to the status page; the thread says when it is done. The request itself is unchanged.',
    };
  }

  private silenceKey(request: BackoutRequest) {
    return `${alertRequestKey(this.deps.prefix, request.id)}:silence`;
  }

  private async silence(request: BackoutRequest, rule: AlertRule): Promise<void> {
    const { deps } = this;
    const key = this.silenceKey(request);
    if ((await deps.redis.set(key, 'creating', 'EX', 86_400, 'NX')) !== 'OK') return;
    const bounds = planBounds.safeParse(request.plan);
    const now = Date.now();
    // Never past the job's own bound: its rollout timeout, its stability window, and the other steps' deadline.
    const endsAt = new Date(
      now +
        (bounds.data?.timeoutMs ?? 600_000) +
        (bounds.data?.health?.stabilityWindow ?? 0) +
        STEP_RUN_DEADLINE_MS,
    );
    const matchers = silenceMatchers(rule, request);
    try {
      const id = await deps.silences!.create({
        matchers,
        startsAt: new Date(now),
        endsAt,
        comment: `backout ${request.id}: ${request.title}`,
      });
      await deps.redis.set(key, id, 'EX', 86_400);
      await deps.audit.append({
        type: 'incident.silenced',
        requestId: request.id,
        service: request.service,
        ...(request.environment ? { environment: request.environment } : {}),
        actor: 'backout',
        details: { silenceId: id, endsAt: endsAt.toISOString(), matchers },
      });
      await deps.notifier.reply(cardKey(request.id), `${request.id}.silence`, {
        text: `:mute: Silenced alerts matching ${matchers.map((m) => `\`${esc(m.name)}${m.isRegex ? '=~' : '='}${esc(m.value)}\``).join(', ')} in Alertmanager while this rolls out (silence \`${esc(id)}\`, ends at ${slackDate(endsAt)} at the latest; expired as soon as the job ends).`,
      });
    } catch (err) {
      await deps.redis.del(key);
      deps.log.warn({ err, requestId: request.id }, 'could not create the Alertmanager silence');
      await deps.notifier.reply(cardKey(request.id), `${request.id}.silence`, {
        text: `:warning: I could not silence the service's alerts in Alertmanager (${esc((err as Error).message)}); the rollback goes on, and alerts keep notifying.`,
      });
    }
  }

  private async unsilence(request: BackoutRequest): Promise<void> {
    const { deps } = this;
    const key = this.silenceKey(request);
    const id = await deps.redis.get(key);
    if (!id || id === 'creating' || !deps.silences) return;
    try {
      await deps.silences.expire(id);
      await deps.redis.del(key);
      await deps.audit.append({
        type: 'incident.unsilenced',
        requestId: request.id,
        service: request.service,
        ...(request.environment ? { environment: request.environment } : {}),
        actor: 'backout',
        details: { silenceId: id },
      });
      await deps.notifier.reply(cardKey(request.id), `${request.id}.unsilence`, {
        text: `:loud_sound: Expired the Alertmanager silence \`${esc(id)}\`: the job has ended, so alerts notify again.`,
      });
    } catch (err) {
      deps.log.warn(
        { err, requestId: request.id, silenceId: id },
        'could not expire the Alertmanager silence',
      );
      await deps.notifier.reply(cardKey(request.id), `${request.id}.unsilence`, {
        text: `:warning: I could not expire the Alertmanager silence \`${esc(id)}\` (${esc((err as Error).message)}). It ends by itself at its end time; expire it now with \`amtool silence expire ${esc(id)}\`.`,
      });
    }
  }
}

/** The rule's matchers, or the target's `service` and `environment`. */
export function silenceMatchers(rule: AlertRule, request: BackoutRequest): SilenceMatcher[] {
  const s = rule.silence ?? { matchers: {}, matchersRe: {} };
  const out: SilenceMatcher[] = [
    ...Object.entries(s.matchers).map(([name, value]) => ({ name, value, isRegex: false, isEqual: true })),
    ...Object.entries(s.matchersRe).map(([name, value]) => ({ name, value, isRegex: true, isEqual: true })),
  ];
  if (out.length) return out;
  return [
    { name: 'service', value: request.service, isRegex: false, isEqual: true },
    ...(request.environment
      ? [{ name: 'environment', value: request.environment, isRegex: false, isEqual: true }]
      : []),
  ];
}
