import type { Queue } from 'bullmq';
import type { ChainedAuditLog } from '../audit/log.js';
import type { AuditEvent } from '../audit/record.js';
import type { Config, Policy } from '../config/model.js';
import { BusyError, IntegrationError, NotFoundError, PolicyError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { activeFreeze, approvalRule, checkApprover, describePrincipals, isIn } from '../policy/policy.js';
import { needsQuorum, quorumLine, quorumOf } from '../policy/quorum.js';
import { assertWindowOpen } from '../policy/windows.js';
import type { JobData } from '../queue/job-definition.js';
import { auditContext } from '../queue/step-runner.js';
import type { Directory } from '../slack/directory.js';
import type { Membership } from '../slack/membership.js';
import type { Notifier } from '../slack/notifier.js';
import { cardKey, type CardRenderer } from './card-view.js';
import { newRequestId } from './ids.js';
import { planHash } from './plan-hash.js';
import { isTerminal, type RequestStore, type TransitionResult } from './store.js';
import { FILING_GRACE_MS, type TargetLocks } from './target-lock.js';
import type { ApprovalRule, ApprovalVote, BackoutRequest, RequestKind, SlackPlace } from './types.js';
import { slackDate } from '../text/time.js';

export interface FileInput<P> {
  kind: RequestKind;
  service: string;
  environment?: string;
  target: string;
  mutating: boolean;
  requester: string;
  reason?: string;
  plan: P;
  title: string;
  policy: Policy;
  /** Steps that cannot be undone; they make approval mandatory. */
  irreversible?: string[];
  /** Approving is a break-glass decision, for this reason (e.g. an irreversible migration). */
  breakGlass?: string;
  /** Further approver lists the one approval must also satisfy (a group's members' policies). */
  approvalAlso?: ApprovalRule['also'];
  slack: SlackPlace;
  parentId?: string;
  /** Filed by a running job as its child: approved by the parent's approval, its job a BullMQ child. */
  child?: ChildOf;
  /**
   * A change in the safe direction (returning traffic to stable): a freeze does not hold it
   * back, since freezing it would keep a bad canary in front of users.
   */
  safeDirection?: boolean;
  /** A forward move (canary start, roll forward), named for messages: change windows apply to it. */
  forward?: string;
  /** The request id, when the caller had to know it first (a webhook claiming its gate or alert group in Redis). */
  id?: string;
  /** Filed by a delivery tool (Flagger, Argo Rollouts) or an alert rather than a Slack user: no membership check. */
  system?: boolean;
  /** More facts for the request.created record (gate results, a break-glass override). */
  auditDetails?: Record<string, unknown>;
}

/** How a child request (e.g. a rollback started by a retraction) relates to the request that filed it. */
export interface ChildOf {
  /** Chosen by the parent and checkpointed before filing, so a parent re-run after a crash finds it. */
  id: string;
  parentId: string;
  /** Who approved the parent: that approval covers the child. */
  approver?: string;
  /** Whether the parent's approval broke a freeze (a child in a frozen environment needs that). */
  breakGlass?: boolean;
  /** The parent's BullMQ job (`queue` is the queue's qualified name, prefix included). */
  job: { id: string; queue: string };
}

export interface FlowDeps {
  config: Config;
  requests: RequestStore;
  locks: TargetLocks;
  notifier: Notifier;
  cards: CardRenderer;
  audit: ChainedAuditLog;
  directory: Directory;
  members: Membership;
  jobs: Queue<JobData>;
  timers: Queue;
  metrics: Metrics;
  log: Logger;
  dryRun: boolean;
}

export const JOB_ATTEMPTS = 5;

/** The expiry timer: retried with backoff, so one Redis hiccup does not leave a request pending for ever. */
export function expiryTimer(requestId: string, delay: number) {
  return {
    jobId: `expire-${requestId}`,
    delay,
    attempts: 8,
    backoff: { type: 'exponential' as const, delay: 1_000 },
    removeOnComplete: true,
    removeOnFail: 100,
  };
}

export type Decision = { ok: true; message: string } | { ok: false; message: string };

/**
 * A request's life outside its job: filing (lock, record, card, expiry timer or an
 * immediate start), and the decisions people make on the card (approve, reject, retry)
 * and time makes (expiry). Every transition is atomic in the store, audited, and shown
 * on the card.
 */
export class RequestFlow {
  constructor(private readonly deps: FlowDeps) {}

  async file<P>(input: FileInput<P>, now = new Date()): Promise<BackoutRequest<P>> {
    const { deps } = this;
    const id = input.child?.id ?? input.id ?? newRequestId(input.kind);
    if (input.forward) assertWindowOpen(deps.config.windows, input, input.forward, now.getTime());
    const freeze =
      input.mutating && !input.safeDirection
        ? activeFreeze(deps.config, input.service, input.environment, now)
        : undefined;
    if (input.child && freeze && !input.child.breakGlass) {
      throw new PolicyError(
        `The ${freeze.name} freeze is in force until ${slackDate(freeze.to)} and ${input.child.parentId} was not approved as a break-glass change, so this was not started. Nothing was changed.`,
      );
    }
    // A child's requester was checked when its parent was filed.
    if (!input.child && !input.system)
      await deps.members.checkMember(input.requester, 'request', input.policy.requesters.users);
    const approval = await this.childApproval(input, freeze);
    if (input.mutating) await this.takeTarget(input.target, id);
    try {
      const request = (await deps.requests.create({
        id,
        kind: input.kind,
        service: input.service,
        ...(input.environment ? { environment: input.environment } : {}),
        target: input.target,
        mutating: input.mutating,
        requester: input.requester,
        ...(input.reason ? { reason: input.reason } : {}),
        createdAt: now.getTime(),
        expiresAt: now.getTime() + input.policy.approvalTtlMs,
        plan: input.plan,
        planHash: planHash(input.plan),
        title: input.title,
        approval,
        slack: input.slack,
        dryRun: deps.dryRun,
        ...(input.parentId || input.child ? { parentId: input.child?.parentId ?? input.parentId } : {}),
        ...(input.child ? { parentJob: input.child.job } : {}),
        ...(input.forward ? { forward: input.forward } : {}),
      })) as BackoutRequest<P>;
      const created = await deps.audit.append({
        type: 'request.created',
        ...auditContext(request),
        ...(request.reason
          ? {
              details: {
                ...input.auditDetails,
                reason: request.reason,
                title: request.title,
                freeze: freeze?.name,
                parentId: request.parentId,
              },
            }
          : {
              details: {
                ...input.auditDetails,
                title: request.title,
                freeze: freeze?.name,
                parentId: request.parentId,
              },
            }),
      });
      await deps.requests.rememberAuditStart(id, created.seq);
      await deps.notifier.post(cardKey(id), input.slack.channel, deps.cards.render(request), {
        ...(input.slack.threadTs ? { threadTs: input.slack.threadTs } : {}),
      });
      if (approval.required) {
        await deps.timers.add('expire', { requestId: id }, expiryTimer(id, input.policy.approvalTtlMs));
        return request;
      }
      // Covered by the parent's approval: that approver is this request's approver too.
      const approver = input.child?.approver;
      await this.approveCovered(id, approver, now);
      await this.enqueue(id, 1);
      await deps.cards.refresh(id);
      return { ...request, state: 'approved', ...(approver ? { approver } : {}) };
    } catch (err) {
      if (input.mutating) await deps.locks.release(input.target, id).catch(() => false);
      throw err;
    }
  }

  /**
   * The approval a request needs under its own policy. A child (a retraction's rollback) is
   * covered by its parent's Approve only where that click satisfies this environment's own
   * policy: the parent's approver is an approver here (and not the requester under the
   * two-person rule) and a full member of the workspace. Otherwise it needs its own card.
   */
  private async childApproval(
    input: FileInput<unknown>,
    freeze: ReturnType<typeof activeFreeze>,
  ): Promise<ApprovalRule> {
    const own: ApprovalRule = {
      ...approvalRule(input.policy, {
        irreversible: input.irreversible ?? [],
        ...(freeze ? { freeze } : {}),
      }),
      ...(input.approvalAlso?.length ? { also: input.approvalAlso } : {}),
      ...(input.breakGlass ? { breakGlass: input.breakGlass } : {}),
    };
    if (!input.child) return own;
    const covered: ApprovalRule = {
      required: false,
      reasons: [`covered by the approval of ${input.child.parentId}`],
      approvers: input.policy.approvers,
      twoPerson: input.policy.twoPerson,
    };
    if (!own.required) return covered;
    const approver = input.child.approver;
    if (!approver) {
      return {
        ...own,
        reasons: [
          ...own.reasons,
          `${input.child.parentId} was started without an approval that covers this environment`,
        ],
      };
    }
    try {
      await checkApprover(approver, { approval: own, requester: input.requester }, this.deps.directory);
      await this.deps.members.checkMember(approver, 'approve', own.approvers.users);
      return covered;
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      return {
        ...own,
        reasons: [
          ...own.reasons,
          `<@${approver}> approved ${input.child.parentId} but is not an approver for this environment`,
        ],
      };
    }
  }

  /**
   * pending → approved for a request that needs no click of its own (policy, or covered by its
   * parent's approval, whose approver it records), audited in the same step.
   */
  async approveCovered(id: string, approver: string | undefined, now = new Date()): Promise<void> {
    const request = await this.deps.requests.get(id);
    if (!request || request.state !== 'pending') return;
    const moved = await this.moveAudited(
      {
        type: 'request.approved',
        ...auditContext({ ...request, ...(approver ? { approver } : {}) }),
        details: request.parentJob ? { coveredBy: request.parentId } : { approval: 'not required' },
      },
      id,
      ['pending'],
      'approved',
      { approvedAt: now.getTime(), ...(approver ? { approver } : {}) },
    );
    if (!moved.ok && !(moved.reason === 'conflict' && moved.state !== 'pending')) {
      throw new Error(`request ${id} could not be approved (${moved.reason})`);
    }
  }

  /**
   * A transition and its audit record, in one atomic step. When the audit cannot be written the
   * request has not moved: the caller says so ("nothing was changed" is then the truth).
   */
  private async moveAudited(
    event: AuditEvent,
    id: string,
    from: BackoutRequest['state'][],
    to: BackoutRequest['state'],
    fields: Parameters<RequestStore['transition']>[3] = {},
    opts: { checkExpiry?: boolean; now?: number } = {},
  ): Promise<TransitionResult> {
    try {
      return await this.deps.requests.transitionAudited(this.deps.audit, event, id, from, to, fields, opts);
    } catch (err) {
      this.deps.log.error(
        { err, requestId: id, event: event.type },
        'could not write the transition and its audit record',
      );
      throw new IntegrationError(
        'redis',
        `The audit record (${event.type}) could not be written (${(err as Error).message}), so the request was not moved to ${to}: it is still ${from.join(' or ')}. Nothing was changed.`,
        {
          retryable: true,
          cause: err,
          hint: 'Try again in a moment. If it keeps failing, check Redis with `backout doctor` and the audit chain with `backout audit verify`.',
        },
      );
    }
  }

  /**
   * Takes the per-target lock, or explains who holds it. A finished holder is replaced, and one
   * whose approval window is over is expired first.
   */
  private async takeTarget(target: string, id: string): Promise<void> {
    const { deps } = this;
    let taken = await deps.locks.acquire(target, id);
    if (taken.ok) return;
    let holder = await deps.requests.get(taken.holder);
    if (holder?.state === 'pending' && holder.expiresAt <= Date.now()) {
      // Its expiry has not run yet (its timer fires in a moment, or the sweep finds it): run it
      // now, so this filing does not wait for it, and nobody is told it is "waiting for approval".
      await this.expire(holder.id);
      holder = await deps.requests.get(holder.id);
    }
    // A holder not stored yet that took the target moments ago is being filed right now, not gone.
    const beingFiled = !holder && taken.heldForMs < FILING_GRACE_MS;
    if (!beingFiled && (!holder || isTerminal(holder.state))) {
      taken = await deps.locks.acquire(target, id, taken.holder);
      if (taken.ok) return;
    }
    // Taken over meanwhile by another filing: tell of that one.
    const current = beingFiled
      ? undefined
      : holder && holder.id === taken.holder
        ? holder
        : await deps.requests.get(taken.holder);
    const what = current
      ? `${current.id} (${current.title}, requested by <@${current.requester}>) is ${current.state === 'pending' ? 'waiting for approval' : current.state}${current.progress?.current ? ` — ${current.progress.current}` : ''}`
      : beingFiled
        ? `request ${taken.holder} took it ${Math.round(taken.heldForMs / 1000)} s ago and is still being filed (if that filing failed, the target frees itself within a minute)`
        : `request ${taken.holder} holds it`;
    throw new BusyError(`${target} is busy: ${what}. Nothing was changed.`, {
      hint: beingFiled
        ? 'Its card appears in a moment: approve or reject that one, or run the command again once the target is free.'
        : 'Wait for it to finish (or reject it) and run the command again.',
    });
  }

  /**
   * Adds the request's job (a no-op when it exists). A child request's job is a BullMQ flow
   * child of its parent's job (given, or as recorded when it was filed): the parent waits for
   * it, and a child that fails for good does not block the parent.
   */
  async enqueue(
    requestId: string,
    run: number,
    opts: { parent?: { id: string; queue: string }; kind?: RequestKind } = {},
  ): Promise<void> {
    const request = opts.kind && opts.parent ? undefined : await this.deps.requests.get(requestId);
    const kind = opts.kind ?? request?.kind;
    if (!kind) return;
    await this.deps.requests.annotate(requestId, { run });
    await this.addJob(requestId, kind, run, opts.parent ?? request?.parentJob);
  }

  /** Adds the job of a request whose stored `run` already says `run` (a no-op when the job exists). */
  private async addJob(
    requestId: string,
    kind: RequestKind,
    run: number,
    parent: { id: string; queue: string } | undefined,
  ): Promise<void> {
    const data: JobData = { requestId, run, completed: [], state: {} };
    await this.deps.jobs.add(kind, data, {
      jobId: requestId,
      attempts: JOB_ATTEMPTS,
      backoff: { type: 'exponential', delay: 2_000 },
      removeOnComplete: { age: 30 * 86_400 },
      removeOnFail: { age: 30 * 86_400 },
      ...(parent ? { parent, ignoreDependencyOnFailure: true } : {}),
    });
  }

  async approve(
    requestId: string,
    user: string,
    shownHash: string,
    breakGlass: boolean,
    now = new Date(),
    /** The request as read while the click's replay check ran (saves a round trip before the move). */
    prefetched?: Promise<BackoutRequest | undefined>,
  ): Promise<Decision> {
    const { deps } = this;
    const request = await this.load(requestId, shownHash, prefetched);
    if (request.state !== 'pending') return { ok: false, message: alreadyDecided(request) };
    if (request.expiresAt <= now.getTime()) {
      await this.expire(requestId);
      return { ok: false, message: expiredMessage(request) };
    }
    // A window that closed after the request was filed holds the move back at the click too.
    if (request.forward) assertWindowOpen(deps.config.windows, request, request.forward, now.getTime());
    const freeze = request.mutating
      ? activeFreeze(deps.config, request.service, request.environment, now)
      : undefined;
    if (freeze && !breakGlass) {
      throw new PolicyError(
        `The ${freeze.name} freeze is in force until ${slackDate(freeze.to)}, so a plain approval is not enough. Nothing was changed.`,
        {
          hint: request.approval.freeze
            ? 'Use "Break glass & approve" if this cannot wait.'
            : 'The freeze began after this request was filed: run the command again to get a break-glass card.',
        },
      );
    }
    if (request.approval.breakGlass && !breakGlass) {
      throw new PolicyError(
        `Approving this is a break-glass decision (${request.approval.breakGlass}), so a plain approval is not enough. Nothing was changed.`,
        { hint: 'Use "Break glass & approve" on the card if this cannot wait.' },
      );
    }
    await checkApprover(user, request, deps.directory);
    await deps.members.checkMember(user, 'approve', request.approval.approvers.users);
    const glass = breakGlass && (freeze !== undefined || request.approval.breakGlass !== undefined);
    if (needsQuorum(request.approval)) {
      const voted = await this.vote(request, user, glass, freeze?.name, now);
      if (voted !== 'complete') return voted;
      return this.started(request, glass);
    }
    const moved = await this.moveAudited(
      {
        type: 'request.approved',
        ...auditContext({ ...request, approver: user }),
        ...(glass
          ? {
              details: {
                breakGlass: true,
                ...(freeze ? { freeze: freeze.name } : {}),
                ...(request.approval.breakGlass ? { why: request.approval.breakGlass } : {}),
              },
            }
          : {}),
      },
      requestId,
      ['pending'],
      'approved',
      // Run 1 is recorded with the approval, so queueing the job needs no write of its own.
      { approver: user, approvedAt: now.getTime(), breakGlass: glass, run: 1 },
      { checkExpiry: true, now: now.getTime() },
    );
    if (!moved.ok) {
      if (moved.reason === 'expired') {
        await this.expire(requestId);
        return { ok: false, message: expiredMessage(request) };
      }
      const fresh = await deps.requests.get(requestId);
      return { ok: false, message: fresh ? alreadyDecided(fresh) : 'This request no longer exists.' };
    }
    return this.started(request, glass);
  }

  /** After the click that approved a request: count it, queue the job, show it on the card. */
  private async started(request: BackoutRequest, glass: boolean): Promise<Decision> {
    const { deps } = this;
    const requestId = request.id;
    deps.metrics.approvals.inc({ outcome: glass ? 'break_glass' : 'approved' });
    // Approved and recorded: from here on the change will run, so no answer may say otherwise.
    try {
      // The approval recorded run 1 with it (see approve and vote).
      await this.addJob(requestId, request.kind, 1, request.parentJob);
    } catch (err) {
      deps.log.warn(
        { err, requestId },
        'approved, but the job could not be queued yet; the sweep will queue it',
      );
      return {
        ok: true,
        message: `Approved and recorded, but the job could not be queued just now (${(err as Error).message}). ${request.title} will start by itself once the queue answers (checked every 30 s); follow it in the thread.`,
      };
    }
    await deps.timers.remove(`expire-${requestId}`).catch(() => 0);
    await deps.cards
      .refresh(requestId)
      .catch((err: unknown) => deps.log.warn({ err, requestId }, 'card refresh failed'));
    return { ok: true, message: `Approved. ${request.title} is starting; follow it in the thread.` };
  }

  /**
   * One Approve towards a quorum (minApprovals, requiredApprovers): recorded and audited with a
   * compare-and-set on the stored approvals, so clicks racing on two replicas are each counted
   * once and only the click that completes the quorum moves the request to approved.
   */
  private async vote(
    request: BackoutRequest,
    user: string,
    glass: boolean,
    freeze: string | undefined,
    now: Date,
  ): Promise<Decision | 'complete'> {
    const { deps } = this;
    const rule = request.approval;
    const required = rule.requiredApprovers
      ? await isIn(user, rule.requiredApprovers, deps.directory)
      : false;
    for (let attempt = 0; attempt < 50; attempt++) {
      const seen = await deps.requests.rawApprovals(request.id);
      const votes = seen ? (JSON.parse(seen) as ApprovalVote[]) : [];
      if (votes.some((v) => v.user === user))
        return {
          ok: false,
          message: `You have already approved this request (${quorumLine(rule, votes)}). Nothing more was done.`,
        };
      const before = quorumOf(rule, votes);
      if (!required && !before.requiredMet && votes.length >= before.need - 1 && rule.requiredApprovers) {
        const who = describePrincipals(rule.requiredApprovers);
        throw new PolicyError(
          `${quorumLine(rule, votes)}: the approval still missing must come from ${who}, so yours was not counted. Nothing was changed.`,
          { hint: `Ask ${who} to approve it.` },
        );
      }
      const next: ApprovalVote[] = [
        ...votes,
        { user, at: now.getTime(), required, ...(glass ? { breakGlass: true } : {}) },
      ];
      const after = quorumOf(rule, next);
      const event: AuditEvent = {
        type: after.complete ? 'request.approved' : 'request.approval-added',
        ...auditContext({ ...request, approver: user }),
        details: {
          approvals: next.map((v) => v.user),
          of: after.need,
          ...(required ? { requiredApprover: true } : {}),
          ...(glass ? { breakGlass: true, ...(freeze ? { freeze } : {}) } : {}),
        },
      };
      let moved: Awaited<ReturnType<RequestStore['voteAudited']>>;
      try {
        moved = await deps.requests.voteAudited(
          deps.audit,
          event,
          request.id,
          { seen, next: JSON.stringify(next), completes: after.complete, now: now.getTime() },
          after.complete ? { approver: user, approvedAt: now.getTime(), breakGlass: glass, run: 1 } : {},
        );
      } catch (err) {
        deps.log.error({ err, requestId: request.id }, 'could not write the approval and its audit record');
        throw new IntegrationError(
          'redis',
          `Your approval and its audit record could not be written (${(err as Error).message}), so it was not counted: the request is still waiting. Nothing was changed.`,
          { retryable: true, cause: err, hint: 'Try again in a moment; `backout doctor` checks Redis.' },
        );
      }
      if (moved.ok) {
        if (after.complete) return 'complete';
        deps.metrics.approvals.inc({ outcome: 'partial' });
        await deps.cards
          .refresh(request.id)
          .catch((err: unknown) => deps.log.warn({ err, requestId: request.id }, 'card refresh failed'));
        return {
          ok: true,
          message: `Approval recorded: ${quorumLine(rule, next)}. ${request.title} starts once the rest approve.`,
        };
      }
      if (moved.reason === 'moved') continue;
      if (moved.reason === 'expired') {
        await this.expire(request.id);
        return { ok: false, message: expiredMessage(request) };
      }
      const fresh = await deps.requests.get(request.id);
      return { ok: false, message: fresh ? alreadyDecided(fresh) : 'This request no longer exists.' };
    }
    throw new BusyError(
      'Too many approvals arrived at once to count yours, so it was not counted. Nothing was changed.',
      { hint: 'Click Approve again.' },
    );
  }

  async reject(requestId: string, user: string, shownHash: string, now = new Date()): Promise<Decision> {
    const { deps } = this;
    const request = await this.load(requestId, shownHash);
    if (request.state !== 'pending') return { ok: false, message: alreadyDecided(request) };
    // The requester may withdraw their own request; anyone else must be an approver.
    if (user !== request.requester) {
      await checkApprover(user, request, deps.directory);
      await deps.members.checkMember(user, 'approve', request.approval.approvers.users);
    }
    const to = user === request.requester ? 'cancelled' : 'rejected';
    const moved = await this.moveAudited(
      {
        type: to === 'rejected' ? 'request.rejected' : 'request.cancelled',
        ...auditContext(request),
        details: { by: user },
      },
      requestId,
      ['pending'],
      to,
      { decidedBy: user, decidedAt: now.getTime() },
    );
    if (!moved.ok) {
      const fresh = await deps.requests.get(requestId);
      return { ok: false, message: fresh ? alreadyDecided(fresh) : 'This request no longer exists.' };
    }
    deps.metrics.approvals.inc({ outcome: to });
    await this.finishWithoutJob(request);
    return {
      ok: true,
      message: to === 'rejected' ? 'Rejected. Nothing was changed.' : 'Withdrawn. Nothing was changed.',
    };
  }

  /** Called by the expiry timer (and on a late click): pending → expired, card says so. */
  async expire(requestId: string, why?: string): Promise<boolean> {
    const { deps } = this;
    const request = await deps.requests.get(requestId);
    if (!request || request.state !== 'pending') return false;
    const moved = await this.moveAudited(
      { type: 'request.expired', ...auditContext(request), ...(why ? { details: { why } } : {}) },
      requestId,
      ['pending'],
      'expired',
      why ? { statusLine: why } : {},
    );
    if (!moved.ok) return false;
    deps.metrics.approvals.inc({ outcome: 'expired' });
    await this.finishWithoutJob(request);
    return true;
  }

  /**
   * Ends a running request whose job is gone or failed for good (the sweep found it holding
   * its target): failed, with `why` on its card, the target free again. Retry stays possible.
   */
  async abandon(requestId: string, why: string): Promise<boolean> {
    const request = await this.deps.requests.get(requestId);
    if (!request || request.state !== 'running') return false;
    const moved = await this.moveAudited(
      {
        type: 'job.failed',
        ...auditContext(request),
        outcome: why,
        details: { by: 'sweep', run: request.run },
      },
      requestId,
      ['running'],
      'failed',
      { outcome: why, verdict: 'failed' },
    );
    if (!moved.ok) return false;
    if (request.mutating) await this.deps.locks.release(request.target, request.id);
    await this.deps.cards.refresh(request.id);
    return true;
  }

  /** Cancels a pending request (e.g. its card could not be posted), telling nobody but the audit. */
  async cancel(requestId: string, why: string): Promise<boolean> {
    const request = await this.deps.requests.get(requestId);
    if (!request || request.state !== 'pending') return false;
    const moved = await this.moveAudited(
      { type: 'request.cancelled', ...auditContext(request), details: { why } },
      requestId,
      ['pending'],
      'cancelled',
      { statusLine: why },
    );
    if (!moved.ok) return false;
    await this.finishWithoutJob(request);
    return true;
  }

  /**
   * Retry of a failed job: re-checks the clicker's rights and any freeze now in force,
   * re-takes the target, continues from the failed step as a new run.
   */
  async retry(requestId: string, user: string, shownHash: string, now = new Date()): Promise<Decision> {
    const { deps } = this;
    const request = await this.load(requestId, shownHash);
    if (request.state !== 'failed')
      return { ok: false, message: `Only a failed job can be retried; this one is ${request.state}.` };
    if (request.approval.required || user !== request.requester) {
      await checkApprover(user, request, deps.directory);
      await deps.members.checkMember(user, 'approve', request.approval.approvers.users);
    } else {
      await deps.members.checkMember(user, 'request', []);
    }
    const freeze = request.mutating
      ? activeFreeze(deps.config, request.service, request.environment, now)
      : undefined;
    // Only an approval that broke this very freeze carries over to a retry during it.
    if (freeze && !(request.breakGlass && request.approval.freeze === freeze.name)) {
      throw new PolicyError(
        `The ${freeze.name} freeze is in force until ${slackDate(freeze.to)}, and this request was not approved to break it, so it was not retried. Nothing was changed; the job stays failed.`,
        { hint: 'Run the command again to get a break-glass card, or retry after the freeze.' },
      );
    }
    if (request.mutating) await this.takeTarget(request.target, request.id);
    const run = request.run + 1;
    let moved: TransitionResult;
    try {
      moved = await this.moveAudited(
        { type: 'job.retried', ...auditContext(request), details: { by: user, run } },
        requestId,
        ['failed'],
        'approved',
        { statusLine: '', run },
      );
    } catch (err) {
      if (request.mutating) await deps.locks.release(request.target, request.id).catch(() => false);
      throw err;
    }
    if (!moved.ok) return { ok: false, message: 'Someone else retried it first.' };
    try {
      const job = await deps.jobs.getJob(requestId);
      if (job && (await job.isFailed())) {
        await job.updateData({ ...job.data, run, stepStartedAt: undefined });
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      } else {
        await job?.remove().catch(() => undefined);
        await this.enqueue(requestId, run);
      }
    } catch (err) {
      deps.log.warn(
        { err, requestId },
        'retry recorded, but the job could not be queued yet; the sweep will queue it',
      );
      return {
        ok: true,
        message: `Retry recorded, but the job could not be queued just now (${(err as Error).message}). It will start by itself once the queue answers (checked every 30 s).`,
      };
    }
    await deps.cards.refresh(requestId);
    return { ok: true, message: 'Retrying from the step that failed; follow it in the thread.' };
  }

  private async finishWithoutJob(request: BackoutRequest): Promise<void> {
    if (request.mutating) await this.deps.locks.release(request.target, request.id);
    await this.deps.timers.remove(`expire-${request.id}`).catch(() => 0);
    await this.deps.cards.refresh(request.id);
  }

  private async load(
    requestId: string,
    shownHash: string,
    prefetched?: Promise<BackoutRequest | undefined>,
  ): Promise<BackoutRequest> {
    const request = await (prefetched ?? this.deps.requests.get(requestId));
    if (!request)
      throw new NotFoundError(
        `Request ${requestId} no longer exists (requests are kept for 30 days). Nothing was changed.`,
      );
    if (!request.planHash.startsWith(shownHash)) {
      throw new PolicyError(
        'This button does not belong to the plan it was shown with, so nothing was changed.',
        {
          hint: 'Use the buttons on the request card itself.',
        },
      );
    }
    return request;
  }
}

function alreadyDecided(r: BackoutRequest): string {
  switch (r.state) {
    case 'approved':
    case 'running':
    case 'succeeded':
    case 'failed':
      return `This request was already approved${r.approver ? ` by <@${r.approver}>` : ''}; it is ${r.state}. Nothing more was done.`;
    case 'rejected':
      return `This request was rejected${r.decidedBy ? ` by <@${r.decidedBy}>` : ''}. Nothing was changed.`;
    case 'cancelled':
      return 'This request was withdrawn. Nothing was changed.';
    case 'expired':
      return expiredMessage(r);
    case 'pending':
      return 'This request is still waiting for approval.';
  }
}

function expiredMessage(r: BackoutRequest): string {
  return `This request expired at ${slackDate(r.expiresAt)} without approval, so it can no longer be approved. Nothing was changed. Run the command again for a fresh plan.`;
}
