import { DelayedError, UnrecoverableError, WaitingChildrenError, type Job } from 'bullmq';
import { asBackoutError, isBackoutError, IntegrationError, type BackoutError } from '../errors.js';
import type { RedisClient } from '../redis/client.js';
import type { ChainedAuditLog } from '../audit/log.js';
import type { AuditEvent } from '../audit/record.js';
import { planAuditFields } from '../audit/record.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { SpanAttributes, Tracing } from '../observability/tracing.js';
import type { RequestStore } from '../requests/store.js';
import type { TargetLocks } from '../requests/target-lock.js';
import type { BackoutRequest } from '../requests/types.js';
import type { JobLifecycle } from '../incidents/lifecycle.js';
import { esc, noteReply, stepReply, type StepEvent } from '../slack/cards.js';
import { isOutcome, outcomeOfError, type Outcome } from '../requests/outcome.js';
import type { Notifier } from '../slack/notifier.js';
import { cardKey, type CardRenderer } from '../requests/card-view.js';
import type { JobData, JobDefinition, Step, StepContext, StepResult } from './job-definition.js';
import { runScript } from '../redis/script.js';

/** Waits this short stay inside the worker; longer ones become delayed jobs. */
const INLINE_WAIT_MS = 5_000;

/**
 * A backstop: one run of a step may take at most this long. Every outbound call has its own
 * (shorter) deadline; should a step still not return, the attempt fails as retryable and
 * stops extending the target lock, rather than holding it for as long as the hang lasts.
 */
export const STEP_RUN_DEADLINE_MS = 5 * 60_000;

export interface RunnerDeps<D> {
  requests: RequestStore;
  locks: TargetLocks;
  notifier: Notifier;
  audit: ChainedAuditLog;
  cards: CardRenderer;
  /** For checkpoint writes fenced by the job's lock token. */
  redis: RedisClient;
  metrics: Metrics;
  log: Logger;
  dryRun: boolean;
  /** The integrations a job's steps use. */
  jobDeps: D;
  /** Aborted on shutdown. */
  shutdown: AbortSignal;
  /** How long one run of a step may take (default STEP_RUN_DEADLINE_MS). */
  stepDeadlineMs?: number;
  tracing: Tracing;
  /** Told when a job starts and when it ends (silences, status page, timeline); never fails the job. */
  lifecycle?: JobLifecycle;
}

export const stepKey = (requestId: string, run: number, step: string) => `${requestId}.r${run}.step.${step}`;

/**
 * Runs one request's job: its named steps in order, a checkpoint in the BullMQ job after
 * each, progress to the card and the thread through the notifier, the target lock held
 * and extended, and the request's state moved to succeeded or failed at the end. Steps
 * already checkpointed are skipped, so a job re-run after a crash continues where it was.
 */
export function createStepRunner<D>(
  definitions: Map<string, JobDefinition<unknown, D>>,
  deps: RunnerDeps<D>,
) {
  /** The lock token each running job was started with. */
  const tokens = new WeakMap<Job<JobData>, string | undefined>();
  /** Checkpoints are written only while this run still holds the job's lock (see saveFenced). */
  const saveData = (job: Job<JobData>, patch: Partial<JobData>) =>
    saveFenced(deps.redis, job, tokens.get(job), patch);

  /** A request's transition with its audit record, in one atomic step. */
  async function moveAudited(
    event: AuditEvent,
    request: BackoutRequest,
    from: BackoutRequest['state'][],
    to: BackoutRequest['state'],
    fields: Parameters<RequestStore['transition']>[3] = {},
  ) {
    return deps.requests.transitionAudited(deps.audit, event, request.id, from, to, fields);
  }

  /** Lifecycle listeners bound their own calls; a failure there is logged, never the job's. */
  async function tell(what: 'started' | 'ended', request: BackoutRequest, log: Logger): Promise<void> {
    try {
      const fresh = what === 'ended' ? ((await deps.requests.get(request.id)) ?? request) : request;
      await deps.lifecycle?.[what](fresh);
    } catch (err) {
      log.warn({ err, what }, 'job lifecycle listener failed');
    }
  }

  return async function process(job: Job<JobData>, token?: string): Promise<string> {
    const data = job.data;
    const request = await deps.requests.get(data.requestId);
    if (!request) throw new UnrecoverableError(`request ${data.requestId} no longer exists`);
    const def = definitions.get(request.kind);
    if (!def) throw new UnrecoverableError(`no job is defined for ${request.kind}`);
    const log = deps.log.child({ requestId: request.id, jobId: job.id, kind: request.kind, run: data.run });
    if (request.state === 'succeeded' || request.state === 'failed') {
      // Ended by a run that stopped before its job completed: what follows an end is told again
      // (each listener keeps that once per run).
      if (data.run === request.run) await tell('ended', request, log);
      return request.outcome ?? request.state;
    }
    if (request.state !== 'approved' && request.state !== 'running') {
      throw new UnrecoverableError(`request ${request.id} is ${request.state}; only approved requests run`);
    }

    tokens.set(job, token);
    if (request.state === 'approved') {
      if (!data.state.started) {
        await moveAudited(
          { type: 'job.started', ...auditContext(request), details: { run: data.run, dryRun: deps.dryRun } },
          request,
          ['approved'],
          'running',
        );
        await saveData(job, { state: { ...data.state, started: true } });
        await tell('started', request, log);
      } else {
        await deps.requests.transition(request.id, ['approved'], 'running');
      }
      request.state = 'running';
    }

    const heartbeat = request.mutating
      ? setInterval(() => {
          deps.locks
            .extend(request.target, request.id)
            .catch((err: unknown) => log.warn({ err }, 'could not extend target lock'));
        }, 60_000)
      : undefined;
    try {
      return await deps.tracing.span(
        `job ${request.kind}`,
        { ...spanAttributes(request), 'backout.job_id': job.id, 'backout.run': job.data.run },
        () => runSteps(job, token, request, def, log),
      );
    } catch (err) {
      await giveUpIfLastAttempt(job, request, err, log);
      throw err;
    } finally {
      if (heartbeat) clearInterval(heartbeat);
    }
  };

  /**
   * An error outside any step's own handling (Redis gone mid-checkpoint, say) is retried by
   * BullMQ; on the last attempt the request must not stay "running" with its target locked.
   */
  async function giveUpIfLastAttempt(job: Job<JobData>, request: BackoutRequest, err: unknown, log: Logger) {
    if (
      err instanceof DelayedError ||
      err instanceof UnrecoverableError ||
      err instanceof WaitingChildrenError ||
      err instanceof LockLostError
    )
      return;
    if (job.attemptsMade + 1 < (job.opts.attempts ?? 1)) return;
    const reason = `stopped after ${job.opts.attempts ?? 1} attempts: ${asBackoutError(err).message}`;
    try {
      const moved = await moveAudited(
        {
          type: 'job.failed',
          ...auditContext(request),
          outcome: oneLine(reason),
          details: { run: job.data.run },
        },
        request,
        ['running', 'approved'],
        'failed',
        { outcome: oneLine(reason), verdict: 'failed' },
      );
      if (!moved.ok) return;
      if (request.mutating) await deps.locks.release(request.target, request.id);
      await deps.cards.refresh(request.id);
      deps.metrics.jobs.inc({ type: request.kind, outcome: 'failed' });
      await tell('ended', request, log);
    } catch (cleanup) {
      log.error({ err: cleanup }, 'could not record the job as failed');
    }
  }

  async function runSteps(
    job: Job<JobData>,
    token: string | undefined,
    request: BackoutRequest,
    def: JobDefinition<unknown, D>,
    log: Logger,
  ): Promise<string> {
    const total = def.steps.length;
    for (let i = 0; i < total; i++) {
      const step = def.steps[i]!;
      if (job.data.completed.includes(step.name)) continue;
      const replyKey = stepKey(request.id, job.data.run, step.name);
      const started = job.data.stepStartedAt ?? Date.now();
      if (job.data.stepStartedAt === undefined) {
        await saveData(job, { stepStartedAt: started });
        await deps.audit.append({
          type: 'step.started',
          ...auditContext(request),
          details: { step: step.name, run: job.data.run },
        });
      }
      await deps.notifier.upsertReply(
        cardKey(request.id),
        replyKey,
        stepReply({ index: i + 1, total, label: step.label, event: 'started' }),
      );
      await deps.cards.refresh(request.id, { done: i, total, current: step.label });

      const dryRun = request.dryRun || deps.dryRun;
      let result: StepResult;
      if (dryRun && step.dryRun === 'skip') {
        result = { detail: 'Skipped: DRY_RUN is on, nothing is changed.' };
      } else {
        try {
          result = await deps.tracing.span(
            `step ${step.name}`,
            { ...spanAttributes(request), 'backout.step': step.name },
            () => runWithInlineWaits(step, contextFor(job, request, step, replyKey, i, total, log)),
          );
        } catch (err) {
          if (
            err instanceof DelayedError ||
            err instanceof WaitingChildrenError ||
            err instanceof LockLostError
          )
            throw err;
          return fail(job, request, step, i, total, replyKey, asBackoutError(err), log);
        }
      }

      if (result && 'again' in result) {
        // A long wait: hand the job back to BullMQ until then, holding no worker.
        await saveData(job, {});
        await job.moveToDelayed(Date.now() + result.again, token);
        throw new DelayedError();
      }
      if (result && 'waitChildren' in result) {
        // Child jobs still running: park in waiting-children; BullMQ brings the job back when the last ends.
        await saveData(job, {});
        if (token && !deps.shutdown.aborted && (await job.moveToWaitingChildren(token))) {
          throw new WaitingChildrenError();
        }
        if (deps.shutdown.aborted) {
          await job.moveToDelayed(Date.now() + 1_000, token);
          throw new DelayedError();
        }
        // No child pending in BullMQ (all ended already): run the step again shortly.
        await abortableDelay(500, deps.shutdown);
        i--;
        continue;
      }
      const durationMs = Date.now() - started;
      deps.metrics.stepDuration.observe({ type: request.kind, step: step.name }, durationMs / 1000);
      const detail = result?.detail;
      const verdict = result && 'verdict' in result ? result.verdict : undefined;
      if (verdict) await saveData(job, { state: { ...job.data.state, verdict } });
      if (result && 'finish' in result) {
        await deps.notifier.update(
          replyKey,
          stepReply({
            index: i + 1,
            total,
            label: step.label,
            event: result.failed ? 'failed' : stepEvent(verdict),
            durationMs,
            ...(detail ? { detail } : {}),
          }),
        );
        await finishStep(job, request, step, durationMs, result.failed ? 'failed' : verdict);
        return result.failed
          ? fail(job, request, step, i, total, replyKey, undefined, log, result.finish, verdict)
          : succeed(job, request, result.finish, log);
      }
      await deps.notifier.update(
        replyKey,
        stepReply({
          index: i + 1,
          total,
          label: step.label,
          event: dryRun && step.dryRun === 'skip' ? 'skipped' : stepEvent(verdict),
          durationMs,
          ...(detail ? { detail } : {}),
        }),
      );
      await finishStep(job, request, step, durationMs, verdict);
    }
    const outcome = typeof job.data.state.outcome === 'string' ? job.data.state.outcome : 'completed';
    return succeed(job, request, outcome, log);
  }

  async function runWithInlineWaits(
    step: Step<unknown, D>,
    ctx: StepContext<unknown, D>,
  ): Promise<StepResult> {
    for (;;) {
      const result = await withinDeadline(step, ctx);
      if (!(result && 'again' in result)) return result;
      if (result.again > INLINE_WAIT_MS || deps.shutdown.aborted) return result;
      await abortableDelay(result.again, deps.shutdown);
    }
  }

  async function withinDeadline(step: Step<unknown, D>, ctx: StepContext<unknown, D>): Promise<StepResult> {
    const ms = deps.stepDeadlineMs ?? STEP_RUN_DEADLINE_MS;
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new IntegrationError(
            'backout',
            `Step "${step.label}" did not finish within ${Math.round(ms / 1000)} s: a call it made never returned.`,
            {
              retryable: true,
              hint: 'This attempt was given up and the target lock is no longer extended by it; the job is retried and resumes from this step.',
            },
          ),
        );
      }, ms);
    });
    try {
      return await Promise.race([step.run(ctx), hung]);
    } finally {
      clearTimeout(timer);
    }
  }

  function contextFor(
    job: Job<JobData>,
    request: BackoutRequest,
    step: Step<unknown, D>,
    replyKey: string,
    index: number,
    total: number,
    log: Logger,
  ): StepContext<unknown, D> {
    return {
      request,
      plan: request.plan,
      // A getter: save() replaces job.data, and a step must see what it saved.
      get state() {
        return job.data.state;
      },
      save: (patch) => saveData(job, { state: { ...job.data.state, ...patch } }),
      progress: (text) =>
        deps.notifier.update(
          replyKey,
          stepReply({ index: index + 1, total, label: step.label, event: 'progress', detail: text }),
        ),
      note: (key, text) =>
        deps.notifier.reply(
          cardKey(request.id),
          `${request.id}.r${job.data.run}.note.${key}`,
          noteReply(text),
        ),
      deps: deps.jobDeps,
      dryRun: request.dryRun || deps.dryRun,
      log: log.child({ step: step.name }),
      signal: deps.shutdown,
    };
  }

  async function finishStep(
    job: Job<JobData>,
    request: BackoutRequest,
    step: Step<unknown, D>,
    durationMs: number,
    verdict: Outcome | undefined,
  ) {
    await saveData(job, { completed: [...job.data.completed, step.name], stepStartedAt: undefined });
    await deps.audit.append({
      type: 'step.finished',
      ...auditContext(request),
      // A step that found problems says so in the audit too (and so in the timeline).
      details: {
        step: step.name,
        run: job.data.run,
        durationMs,
        ...(stepEvent(verdict) === 'finished' ? {} : { verdict }),
      },
    });
    const stepFinished = deps.lifecycle?.stepFinished?.bind(deps.lifecycle);
    if (!stepFinished) return;
    // Off the job's path: the listener only hands the work on, and the next step does not wait for it.
    const steps = definitions.get(request.kind)?.steps.map((s) => s.name) ?? [step.name];
    void stepFinished(request, {
      name: step.name,
      index: steps.indexOf(step.name) + 1,
      steps,
      run: job.data.run,
    }).catch((err: unknown) => deps.log.warn({ err, requestId: request.id }, 'step listener failed'));
  }

  async function succeed(
    job: Job<JobData>,
    request: BackoutRequest,
    outcome: string,
    log: Logger,
  ): Promise<string> {
    // A step that verified the result says how it went (healthy, degraded); otherwise it succeeded.
    const verdict: Outcome = isOutcome(job.data.state.verdict) ? job.data.state.verdict : 'succeeded';
    await moveAudited(
      { type: 'job.succeeded', ...auditContext(request), outcome, details: { run: job.data.run, verdict } },
      request,
      ['running'],
      'succeeded',
      { outcome, verdict },
    );
    if (request.mutating) await deps.locks.release(request.target, request.id);
    await deps.cards.refresh(request.id);
    deps.metrics.jobs.inc({ type: request.kind, outcome: verdict });
    log.info({ outcome, verdict }, 'job succeeded');
    await tell('ended', request, log);
    return outcome;
  }

  /**
   * Ends the job as failed when the error is final (or the attempts are used up);
   * otherwise says in the thread that it will retry and lets BullMQ retry with backoff.
   */
  async function fail(
    job: Job<JobData>,
    request: BackoutRequest,
    step: Step<unknown, D>,
    index: number,
    total: number,
    replyKey: string,
    error: BackoutError | undefined,
    log: Logger,
    outcome?: string,
    given?: Outcome,
  ): Promise<never> {
    const attempts = job.opts.attempts ?? 1;
    const retryable = error !== undefined && isRetryable(error) && job.attemptsMade + 1 < attempts;
    // An outcome is plain text (the card shows it escaped too); it may carry a person's reason.
    const message = error
      ? `${error.message}${error.hint ? `\n${error.hint}` : ''}`
      : esc(outcome ?? 'failed');
    if (retryable) {
      log.warn({ err: error, attempt: job.attemptsMade + 1, attempts }, 'step failed; BullMQ will retry');
      await deps.notifier.update(
        replyKey,
        stepReply({
          index: index + 1,
          total,
          label: step.label,
          event: 'progress',
          detail: `:warning: ${message}\nRetrying automatically (attempt ${job.attemptsMade + 2} of ${attempts}).`,
        }),
      );
      throw error;
    }
    const finalOutcome = outcome ?? error?.message ?? 'failed';
    const verdict: Outcome = outcomeOfError(error?.code) ?? given ?? 'failed';
    await deps.notifier.update(
      replyKey,
      stepReply({ index: index + 1, total, label: step.label, event: 'failed', detail: message }),
    );
    await moveAudited(
      {
        type: 'job.failed',
        ...auditContext(request),
        outcome: oneLine(finalOutcome),
        details: { step: step.name, run: job.data.run, verdict, ...(error ? { code: error.code } : {}) },
      },
      request,
      ['running', 'approved'],
      'failed',
      { outcome: oneLine(finalOutcome), verdict },
    );
    if (request.mutating) await deps.locks.release(request.target, request.id);
    await deps.cards.refresh(request.id);
    deps.metrics.jobs.inc({ type: request.kind, outcome: verdict });
    log.warn({ err: error, step: step.name }, 'job failed');
    await tell('ended', request, log);
    throw new UnrecoverableError(oneLine(finalOutcome));
  }
}

/** A step that ended with problems must not wear a plain check mark. */
function stepEvent(verdict: Outcome | undefined): StepEvent {
  if (verdict === 'failed') return 'failed';
  if (verdict === 'degraded' || verdict === 'overridden') return 'warned';
  return 'finished';
}

function isRetryable(err: BackoutError): boolean {
  if (err instanceof IntegrationError) return err.retryable;
  return !isBackoutError(err) || err.code === 'internal';
}

function oneLine(text: string): string {
  const first = text.split('\n')[0] ?? text;
  return first.length > 300 ? `${first.slice(0, 299)}…` : first;
}

/** Writes the job's data only if `token` still holds the job's lock (BullMQ's lock key). */
const FENCED_UPDATE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
redis.call('HSET', KEYS[2], 'data', ARGV[2])
return 1
`;

/**
 * A run that lost its lock (it stalled, and another worker has the job now) must not write
 * checkpoints over the new run's: the write is refused and this run stops.
 */
export class LockLostError extends Error {
  constructor(jobId: string | undefined) {
    super(`job ${jobId ?? '?'} is no longer held by this run (its lock moved on); this run stops here`);
  }
}

async function saveFenced(
  redis: RedisClient,
  job: Job<JobData>,
  token: string | undefined,
  patch: Partial<JobData>,
): Promise<void> {
  const next = { ...job.data, ...patch };
  if (patch.stepStartedAt === undefined && 'stepStartedAt' in patch) delete next.stepStartedAt;
  if (token === undefined) {
    await job.updateData(next);
    return;
  }
  const jobKey = `${job.queueQualifiedName}:${job.id}`;
  const written = await runScript(
    redis,
    FENCED_UPDATE,
    2,
    `${jobKey}:lock`,
    jobKey,
    token,
    JSON.stringify(next),
  );
  if (written !== 1) throw new LockLostError(job.id);
  job.data = next;
}

export function spanAttributes(request: BackoutRequest): SpanAttributes {
  return {
    'backout.request_id': request.id,
    'backout.kind': request.kind,
    'backout.service': request.service,
    'backout.environment': request.environment,
    'backout.target': request.target,
  };
}

export function auditContext(request: BackoutRequest) {
  return {
    requestId: request.id,
    service: request.service,
    ...(request.environment ? { environment: request.environment } : {}),
    actor: request.requester,
    ...(request.approver ? { approver: request.approver } : {}),
    planHash: request.planHash,
    ...planAuditFields(request.plan),
  };
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
