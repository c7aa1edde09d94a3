import { createHash } from 'node:crypto';
import type { ChainedAuditLog } from '../audit/log.js';
import { BusyError, isBackoutError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { cardKey, type CardRenderer } from '../requests/card-view.js';
import { newRequestId } from '../requests/ids.js';
import { isTerminal, type RequestStore } from '../requests/store.js';
import type { TargetLocks } from '../requests/target-lock.js';
import type { BackoutRequest } from '../requests/types.js';
import type { RedisClient } from '../redis/client.js';
import type { Notifier } from '../slack/notifier.js';
import { offerStatusPage } from './status-offer.js';
import { alertRequestKey } from './keys.js';
import { firingSince, groupLabels, valueOf, type AlertGroup } from './alert.js';
import { SOURCE, alertDetail, alertNotice, alertReason, linkedNote, resolvedNote } from './alert-text.js';
import { matchRule } from './rules.js';
import { PROPOSED_KIND, proposalFor, type Proposal, type ProposalDeps } from './proposal.js';
import { runScript } from '../redis/script.js';

/** Deletes the group's tie only if it still names the request we saw (another delivery may have moved it). */
const DEL_IF = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** How long an alert group stays tied to its request: past this, a group firing again is a new proposal. */
const GROUP_TTL_S = 7 * 86_400;

export interface IntakeAnswer {
  outcome: 'proposed' | 'updated' | 'linked' | 'no-rule' | 'not-proposed' | 'ignored';
  requestId?: string;
  detail?: string;
}

export interface IntakeDeps extends ProposalDeps {
  redis: RedisClient;
  prefix: string;
  requests: RequestStore;
  locks: TargetLocks;
  notifier: Notifier;
  cards: CardRenderer;
  audit: ChainedAuditLog;
  log: Logger;
  /** Called when a proposal's card has been filed: alert start → proposal, for the metric. */
  onProposed?: (alertStartedAt: number, filedAt: number) => void;
}

/**
 * Alerts in: an alert group that a rule matches proposes its mitigation as a normal request
 * (plan card, Approve / Reject, policy as for a person's request). Each group is tied to one
 * request with SET NX, so repeated or concurrent notifications (and two replicas receiving
 * them) edit that one card; a target already being acted on is linked, not proposed twice.
 */
export class AlertIntake {
  constructor(private readonly deps: IntakeDeps) {}

  private keys(group: AlertGroup) {
    const h = createHash('sha256').update(`${group.source}\n${group.groupKey}`).digest('hex').slice(0, 24);
    const base = `${this.deps.prefix}:alert:${h}`;
    return { id: h, request: base, latest: `${base}:latest` };
  }

  async receive(group: AlertGroup, now = Date.now(), retried = false): Promise<IntakeAnswer> {
    const { deps } = this;
    const labels = groupLabels(group);
    const match = matchRule(deps.config, labels);
    const log = deps.log.child({ alert: labels.alertname, source: group.source, status: group.status });
    if (match.kind === 'none') {
      log.info({ labels }, 'alert matches no rule in alerts.rules; nothing was filed');
      return {
        outcome: 'no-rule',
        detail: 'no rule in alerts.rules matches these labels; nothing was filed',
      };
    }
    const keys = this.keys(group);
    // The latest notification, for whichever delivery shows it (the filer, or a later one).
    const count = await deps.redis
      .multi()
      .hset(keys.latest, 'group', JSON.stringify(group), 'at', String(now))
      .hincrby(keys.latest, 'count', 1)
      .expire(keys.latest, GROUP_TTL_S)
      .exec();
    const seen = Number(count?.[1]?.[1] ?? 1);
    const existing = await deps.redis.get(keys.request);
    if (existing) {
      // A proposal nobody decided on (expired, or its card could not be posted) does not silence a
      // group that still fires: the next notification proposes afresh. A rejection is respected.
      const stale =
        group.status === 'firing' && !existing.startsWith('none:') && !retried
          ? await deps.requests.get(existing)
          : undefined;
      if (stale && (stale.state === 'expired' || stale.state === 'cancelled')) {
        if ((await runScript(deps.redis, DEL_IF, 1, keys.request, existing)) === 1) {
          await deps.redis.hset(keys.latest, 'count', 0);
          return this.receive(group, now, true);
        }
      }
      return this.show(existing, keys, log);
    }
    if (group.status === 'resolved')
      return { outcome: 'ignored', detail: 'resolved, and nothing was proposed for it' };

    const channel =
      match.kind === 'matched'
        ? (match.environment.channel ?? deps.config.incidentChannel)
        : deps.config.incidentChannel;
    const candidate = newRequestId(PROPOSED_KIND[match.rule.propose]);
    const claimed = await deps.redis.set(keys.request, candidate, 'EX', GROUP_TTL_S, 'NX');
    if (claimed !== 'OK') {
      const holder = await deps.redis.get(keys.request);
      return holder ? this.show(holder, keys, log) : { outcome: 'ignored' };
    }
    if (match.kind === 'unresolved' || !channel) {
      const why =
        match.kind === 'unresolved'
          ? match.why
          : `${match.service.name} in ${match.environment.name} has no channel and no incidentChannel is set`;
      return this.notPropose(keys, channel, group, match.rule.name, why, log);
    }
    let proposal: Proposal;
    try {
      proposal = await proposalFor(match, deps);
    } catch (err) {
      if (!isBackoutError(err)) {
        await deps.redis.del(keys.request);
        throw err;
      }
      return this.notPropose(keys, channel, group, match.rule.name, err.message, log);
    }
    if ('why' in proposal) return this.notPropose(keys, channel, group, match.rule.name, proposal.why, log);
    // A canary abort that signals a running canary has its own target: linking to the canary
    // holding `<service>/<env>` would swallow the proposal; a second group links to the first abort.
    const { target } = proposal;
    const linked = await this.link(keys, target, group, seen);
    if (linked) return linked;
    const startedAt = firingSince(group) ?? now;
    const received = await deps.audit.append({
      type: 'alert.received',
      requestId: candidate,
      service: match.service.name,
      environment: match.environment.name,
      actor: group.source,
      details: {
        rule: match.rule.name,
        alertname: labels.alertname,
        severity: labels.severity,
        group: keys.id,
        startsAt: new Date(startedAt).toISOString(),
        value: valueOf(group, match.rule.valueFrom),
      },
    });
    try {
      const inv = { user: SOURCE[group.source], channel };
      await proposal.file(inv, alertReason(group, match.rule.name), { id: candidate });
    } catch (err) {
      if (err instanceof BusyError) {
        const again = await this.link(keys, target, group, seen);
        if (again) return again;
      }
      if (!isBackoutError(err)) {
        await deps.redis.del(keys.request);
        throw err;
      }
      return this.notPropose(keys, channel, group, match.rule.name, err.message, log);
    }
    // What the job's lifecycle needs later: the rule (silence, status page) and where the audit starts.
    await deps.redis
      .multi()
      .hset(alertRequestKey(deps.prefix, candidate), {
        rule: match.rule.name,
        group: keys.id,
        firstSeq: String(received.seq),
        alertname: labels.alertname ?? '',
        value: valueOf(group, match.rule.valueFrom) ?? '',
      })
      .expire(alertRequestKey(deps.prefix, candidate), GROUP_TTL_S)
      .exec();
    deps.onProposed?.(startedAt, Date.now());
    if (match.rule.statusPage && !match.rule.statusPage.auto)
      await offerStatusPage(deps, candidate, match.rule, labels, group);
    log.info({ requestId: candidate, target }, 'alert proposed a mitigation');
    await this.show(candidate, keys, log);
    return { outcome: 'proposed', requestId: candidate };
  }

  /** Shows the group's latest notification on its request: the card while pending, the thread after. */
  private async show(
    requestId: string,
    keys: ReturnType<AlertIntake['keys']>,
    log: Logger,
  ): Promise<IntakeAnswer> {
    const { deps } = this;
    const [raw, count] = await deps.redis.hmget(keys.latest, 'group', 'count');
    const group = raw ? (JSON.parse(raw) as AlertGroup) : undefined;
    const resolved = group?.status === 'resolved';
    if (requestId.startsWith('none:')) {
      if (resolved) await deps.redis.del(keys.request);
      return { outcome: 'not-proposed', detail: requestId.slice(5) };
    }
    const request = await deps.requests.get(requestId);
    if (!group || !request) return { outcome: 'updated', requestId };
    if (resolved && !(await this.auditResolvedOnce(request, keys))) {
      log.debug({ requestId }, 'resolution already recorded');
    }
    if (request.state === 'pending') {
      // Concurrent deliveries each write what they read; whoever sees the count move writes again,
      // so the card ends on the latest notification whatever order the writes landed in.
      let shown = count;
      for (let i = 0; i < 5; i++) {
        const [latest, n] = await deps.redis.hmget(keys.latest, 'group', 'count');
        if (i > 0 && n === shown) break;
        shown = n;
        const g = latest ? (JSON.parse(latest) as AlertGroup) : group;
        await deps.requests.annotate(requestId, { statusLine: alertDetail(g, Number(n ?? 1), request) });
        await deps.cards.refresh(requestId);
      }
    } else if (resolved) {
      await deps.notifier.reply(
        cardKey(requestId),
        `${requestId}.alert-resolved`,
        resolvedNote(group, request),
      );
    }
    // A group that resolved after its request ended is finished: firing again is a new proposal.
    if (resolved && isTerminal(request.state)) await deps.redis.del(keys.request);
    return { outcome: 'updated', requestId };
  }

  private async auditResolvedOnce(
    request: BackoutRequest,
    keys: ReturnType<AlertIntake['keys']>,
  ): Promise<boolean> {
    const first = await this.deps.redis.set(
      `${keys.request}:resolved:${request.id}`,
      '1',
      'EX',
      GROUP_TTL_S,
      'NX',
    );
    if (first !== 'OK') return false;
    await this.deps.audit.append({
      type: 'alert.resolved',
      requestId: request.id,
      service: request.service,
      ...(request.environment ? { environment: request.environment } : {}),
      actor: 'alert',
      details: { group: keys.id, state: request.state },
    });
    return true;
  }

  /** A request already acting on the target: tie the group to it and say so in its thread. */
  private async link(
    keys: ReturnType<AlertIntake['keys']>,
    target: string,
    group: AlertGroup,
    seen: number,
  ): Promise<IntakeAnswer | undefined> {
    const { deps } = this;
    const holderId = await deps.locks.holder(target);
    const holder = holderId ? await deps.requests.get(holderId) : undefined;
    if (!holder || isTerminal(holder.state)) return undefined;
    await deps.redis.set(keys.request, holder.id, 'EX', GROUP_TTL_S);
    await deps.notifier.reply(
      cardKey(holder.id),
      `${holder.id}.alert-${keys.id}`,
      linkedNote(group, holder, seen),
    );
    return { outcome: 'linked', requestId: holder.id, detail: `${holder.id} is already acting on ${target}` };
  }

  private async notPropose(
    keys: ReturnType<AlertIntake['keys']>,
    channel: string | undefined,
    group: AlertGroup,
    rule: string,
    why: string,
    log: Logger,
  ): Promise<IntakeAnswer> {
    await this.deps.redis.set(keys.request, `none:${why}`.slice(0, 1_000), 'EX', GROUP_TTL_S);
    log.warn({ rule, why }, 'alert matched a rule but nothing could be proposed');
    if (channel)
      await this.deps.notifier.post(`al-${keys.id}.notice`, channel, alertNotice(group, rule, why));
    return { outcome: 'not-proposed', detail: why };
  }
}
