import type { Queue } from 'bullmq';
import type { AuditLog } from '../audit/log.js';
import type { Config, Policy } from '../config/model.js';
import { BusyError, NotFoundError, PolicyError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { activeFreeze, approvalRule, checkApprover } from '../policy/policy.js';
import type { JobData } from '../queue/job-definition.js';
import { auditContext } from '../queue/step-runner.js';
import type { Directory } from '../slack/directory.js';
import type { Notifier } from '../slack/notifier.js';
import { cardKey, type CardRenderer } from './card-view.js';
import { newRequestId } from './ids.js';
import { planHash } from './plan-hash.js';
import { isTerminal, type RequestStore } from './store.js';
import type { TargetLocks } from './target-lock.js';
import type { ApprovalRule, BackoutRequest, RequestKind, SlackPlace } from './types.js';

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
  audit: AuditLog;
  directory: Directory;
  jobs: Queue<JobData>;
  timers: Queue;
  metrics: Metrics;
  log: Logger;
  dryRun: boolean;
}

export const JOB_ATTEMPTS = 5;

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
    const id = input.child?.id ?? newRequestId(input.kind);
    const freeze =
      input.mutating && !input.safeDirection
        ? activeFreeze(deps.config, input.service, input.environment, now)
        : undefined;
    if (input.child && freeze && !input.child.breakGlass) {
      throw new PolicyError(
        `The ${freeze.name} freeze is in force until ${freeze.to.toISOString()} and ${input.child.parentId} was not approved as a break-glass change, so this was not started. Nothing was changed.`,
      );
    }
    if (input.mutating) await this.takeTarget(input.target, id);
    try {
      const approval: ApprovalRule = input.child
        ? {
            required: false,
            reasons: [`covered by the approval of ${input.child.parentId}`],
            approvers: input.policy.approvers,
            twoPerson: input.policy.twoPerson,
          }
        : {
            ...approvalRule(input.policy, {
              irreversible: input.irreversible ?? [],
              ...(freeze ? { freeze } : {}),
            }),
            ...(input.approvalAlso?.length ? { also: input.approvalAlso } : {}),
            ...(input.breakGlass ? { breakGlass: input.breakGlass } : {}),
          };
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
      })) as BackoutRequest<P>;
      await deps.audit.append({
        type: 'request.created',
        ...auditContext(request),
        ...(request.reason
          ? {
              details: {
                reason: request.reason,
                title: request.title,
                freeze: freeze?.name,
                parentId: request.parentId,
              },
            }
          : { details: { title: request.title, freeze: freeze?.name, parentId: request.parentId } }),
      });
      await deps.notifier.post(cardKey(id), input.slack.channel, deps.cards.render(request), {
        ...(input.slack.threadTs ? { threadTs: input.slack.threadTs } : {}),
      });
      if (approval.required) {
        await deps.timers.add(
          'expire',
          { requestId: id },
          {
            jobId: `expire-${id}`,
            delay: input.policy.approvalTtlMs,
            removeOnComplete: true,
            removeOnFail: 100,
          },
        );
        return request;
      }
      const approver = input.child?.approver;
      await deps.requests.transition(id, ['pending'], 'approved', {
        approvedAt: now.getTime(),
        ...(approver ? { approver } : {}),
      });
      await this.enqueue(id, 1, input.child ? { parent: input.child.job } : {});
      await deps.cards.refresh(id);
      return { ...request, state: 'approved', ...(approver ? { approver } : {}) };
    } catch (err) {
      if (input.mutating) await deps.locks.release(input.target, id).catch(() => false);
      throw err;
    }
  }

  /** Takes the per-target lock, or explains who holds it. A finished holder is replaced. */
  private async takeTarget(target: string, id: string): Promise<void> {
    const { deps } = this;
    let taken = await deps.locks.acquire(target, id);
    if (taken.ok) return;
    const holder = await deps.requests.get(taken.holder);
    if (!holder || isTerminal(holder.state)) {
      taken = await deps.locks.acquire(target, id, taken.holder);
      if (taken.ok) return;
    }
    const current = holder ?? (await deps.requests.get(taken.holder));
    const what = current
      ? `${current.id} (${current.title}, requested by <@${current.requester}>) is ${current.state === 'pending' ? 'waiting for approval' : current.state}${current.progress?.current ? ` — ${current.progress.current}` : ''}`
      : `request ${taken.holder} holds it`;
    throw new BusyError(`${target} is busy: ${what}. Nothing was changed.`, {
      hint: 'Wait for it to finish (or reject it) and run the command again.',
    });
  }

  /**
   * Adds the request's job (a no-op when it exists). With `parent`, the job is a BullMQ flow
   * child of that job: the parent waits for it, and a child that fails for good does not
   * block the parent (it is recorded among the parent's failed children instead).
   */
  async enqueue(
    requestId: string,
    run: number,
    opts: { parent?: { id: string; queue: string }; kind?: RequestKind } = {},
  ): Promise<void> {
    const kind = opts.kind ?? (await this.deps.requests.get(requestId))?.kind;
    if (!kind) return;
    const data: JobData = { requestId, run, completed: [], state: {} };
    await this.deps.requests.annotate(requestId, { run });
    await this.deps.jobs.add(kind, data, {
      jobId: requestId,
      attempts: JOB_ATTEMPTS,
      backoff: { type: 'exponential', delay: 2_000 },
      removeOnComplete: { age: 30 * 86_400 },
      removeOnFail: { age: 30 * 86_400 },
      ...(opts.parent ? { parent: opts.parent, ignoreDependencyOnFailure: true } : {}),
    });
  }

  async approve(
    requestId: string,
    user: string,
    shownHash: string,
    breakGlass: boolean,
    now = new Date(),
  ): Promise<Decision> {
    const { deps } = this;
    const request = await this.load(requestId, shownHash);
    if (request.state !== 'pending') return { ok: false, message: alreadyDecided(request) };
    if (request.expiresAt <= now.getTime()) {
      await this.expire(requestId);
      return { ok: false, message: expiredMessage(request) };
    }
    const freeze = request.mutating
      ? activeFreeze(deps.config, request.service, request.environment, now)
      : undefined;
    if (freeze && !breakGlass) {
      throw new PolicyError(
        `The ${freeze.name} freeze is in force until ${freeze.to.toISOString()}, so a plain approval is not enough. Nothing was changed.`,
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
    const glass = breakGlass && (freeze !== undefined || request.approval.breakGlass !== undefined);
    const moved = await deps.requests.transition(
      requestId,
      ['pending'],
      'approved',
      { approver: user, approvedAt: now.getTime(), breakGlass: glass },
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
    deps.metrics.approvals.inc({ outcome: glass ? 'break_glass' : 'approved' });
    await deps.audit.append({
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
    });
    await this.enqueue(requestId, 1, { kind: request.kind });
    await deps.timers.remove(`expire-${requestId}`).catch(() => 0);
    await deps.cards.refresh(requestId);
    return { ok: true, message: `Approved. ${request.title} is starting; follow it in the thread.` };
  }

  async reject(requestId: string, user: string, shownHash: string, now = new Date()): Promise<Decision> {
    const { deps } = this;
    const request = await this.load(requestId, shownHash);
    if (request.state !== 'pending') return { ok: false, message: alreadyDecided(request) };
    // The requester may withdraw their own request; anyone else must be an approver.
    if (user !== request.requester) await checkApprover(user, request, deps.directory);
    const to = user === request.requester ? 'cancelled' : 'rejected';
    const moved = await deps.requests.transition(requestId, ['pending'], to, {
      decidedBy: user,
      decidedAt: now.getTime(),
    });
    if (!moved.ok) {
      const fresh = await deps.requests.get(requestId);
      return { ok: false, message: fresh ? alreadyDecided(fresh) : 'This request no longer exists.' };
    }
    deps.metrics.approvals.inc({ outcome: to });
    await deps.audit.append({
      type: to === 'rejected' ? 'request.rejected' : 'request.cancelled',
      ...auditContext(request),
      details: { by: user },
    });
    await this.finishWithoutJob(request);
    return {
      ok: true,
      message: to === 'rejected' ? 'Rejected. Nothing was changed.' : 'Withdrawn. Nothing was changed.',
    };
  }

  /** Called by the expiry timer (and on a late click): pending → expired, card says so. */
  async expire(requestId: string): Promise<boolean> {
    const { deps } = this;
    const moved = await deps.requests.transition(requestId, ['pending'], 'expired');
    if (!moved.ok) return false;
    const request = await deps.requests.get(requestId);
    if (!request) return false;
    deps.metrics.approvals.inc({ outcome: 'expired' });
    await deps.audit.append({ type: 'request.expired', ...auditContext(request) });
    await this.finishWithoutJob(request);
    return true;
  }

  /** Cancels a pending request (e.g. its card could not be posted), telling nobody but the audit. */
  async cancel(requestId: string, why: string): Promise<boolean> {
    const moved = await this.deps.requests.transition(requestId, ['pending'], 'cancelled', {
      statusLine: why,
    });
    if (!moved.ok) return false;
    const request = await this.deps.requests.get(requestId);
    if (!request) return false;
    await this.deps.audit.append({ type: 'request.cancelled', ...auditContext(request), details: { why } });
    await this.finishWithoutJob(request);
    return true;
  }

  /** Retry of a failed job: re-takes the target, continues from the failed step as a new run. */
  async retry(requestId: string, user: string, shownHash: string): Promise<Decision> {
    const { deps } = this;
    const request = await this.load(requestId, shownHash);
    if (request.state !== 'failed')
      return { ok: false, message: `Only a failed job can be retried; this one is ${request.state}.` };
    if (request.approval.required) await checkApprover(user, request, deps.directory);
    else if (user !== request.requester) await checkApprover(user, request, deps.directory);
    if (request.mutating) await this.takeTarget(request.target, request.id);
    const moved = await deps.requests.transition(requestId, ['failed'], 'approved', { statusLine: '' });
    if (!moved.ok) return { ok: false, message: 'Someone else retried it first.' };
    const run = request.run + 1;
    await deps.requests.annotate(requestId, { run });
    await deps.audit.append({ type: 'job.retried', ...auditContext(request), details: { by: user, run } });
    const job = await deps.jobs.getJob(requestId);
    if (job && (await job.isFailed())) {
      await job.updateData({ ...job.data, run, stepStartedAt: undefined });
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    } else {
      await job?.remove().catch(() => undefined);
      await this.enqueue(requestId, run);
    }
    await deps.cards.refresh(requestId);
    return { ok: true, message: 'Retrying from the step that failed; follow it in the thread.' };
  }

  private async finishWithoutJob(request: BackoutRequest): Promise<void> {
    if (request.mutating) await this.deps.locks.release(request.target, request.id);
    await this.deps.timers.remove(`expire-${request.id}`).catch(() => 0);
    await this.deps.cards.refresh(request.id);
  }

  private async load(requestId: string, shownHash: string): Promise<BackoutRequest> {
    const request = await this.deps.requests.get(requestId);
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
  return `This request expired at ${new Date(r.expiresAt).toISOString()} without approval, so it can no longer be approved. Nothing was changed. Run the command again for a fresh plan.`;
}
