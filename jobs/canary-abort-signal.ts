import { formatDuration } from '../src/config/duration.js';
import { IntegrationError } from '../src/errors.js';
import type { StepContext, StepResult } from '../src/queue/job-definition.js';
import { auditContext } from '../src/queue/step-runner.js';
import { requesterText } from '../src/slack/cards.js';
import type { CanaryAbortPlan } from './canary-abort.js';
import type { JobDeps } from './deps.js';

type Ctx = StepContext<CanaryAbortPlan, JobDeps>;

/** Who the abort is by: the approver, or (approved by policy, or a person's own abort) who asked. */
export const byOf = (ctx: Ctx) => ctx.request.approver ?? ctx.request.requester;

/** Audits a canary-abort request's `canary.aborted` once, whichever way it returned the traffic. */
export async function auditAbortOnce(
  ctx: Ctx,
  outcome: string,
  details: { weight: number } & Record<string, unknown>,
): Promise<void> {
  if (ctx.state.audited) return;
  await ctx.deps.audit.append({
    type: 'canary.aborted',
    ...auditContext(ctx.request),
    outcome,
    details: {
      auto: false,
      by: byOf(ctx),
      reason: ctx.request.reason ?? 'abort requested',
      provider: ctx.plan.target.provider,
      ...details,
    },
  });
  await ctx.save({ audited: true });
}

/**
 * Aborts a running canary through its own job: signals the abort once, wakes the job, and
 * waits until that canary request is no longer live; then checks with the provider that all
 * traffic is on stable. Re-entrant: what was signalled is saved before and after, so a
 * retry or a crash neither signals twice nor mistakes its own signal for someone else's.
 */
export async function abortThroughCanary(ctx: Ctx): Promise<StepResult> {
  const { plan, request } = ctx;
  const canaryId = plan.signal!;
  const board = ctx.deps.canary;
  const target = `${plan.service}/${plan.environment}`;
  if (!ctx.state.signalled) {
    const live = await board.live(target);
    if (live?.id !== canaryId) return ended(ctx);
    const at = (ctx.state.signalAt as number | undefined) ?? Date.now();
    if (ctx.state.signalAt === undefined) await ctx.save({ signalAt: at });
    const by = byOf(ctx);
    const reason = `${request.reason ?? 'abort requested'} (${request.id})`;
    await board.signal(canaryId, 'abort', { by, at, reason }, { once: true });
    const first = (await board.signals(canaryId)).abort;
    // Ours unless someone (a person's Abort, say) signalled the canary first.
    const ours = first?.at === at && first.by === by;
    await ctx.save({ signalled: true, ours, firstBy: first?.by ?? by });
  }
  if (!ctx.state.woken) {
    await board.wake(canaryId);
    await ctx.save({ woken: true });
  }
  // Each run waits its full bound: a Retry after a timeout waits afresh.
  const saved = ctx.state.waitFrom as { run: number; at: number } | undefined;
  const from = saved?.run === request.run ? saved.at : Date.now();
  if (saved?.run !== request.run) await ctx.save({ waitFrom: { run: request.run, at: from } });
  const live = await board.live(target);
  if (live?.id !== canaryId) return ended(ctx);
  const position = await board.position(canaryId);
  const where = position
    ? `${position.phase}, ${position.weight} % on the canary`
    : 'its job has not reported yet';
  if (Date.now() - from > plan.timeoutMs)
    throw new IntegrationError(
      'kubernetes',
      `Canary \`${canaryId}\` was told to abort but is still running after ${formatDuration(plan.timeoutMs)} (${where}).`,
      {
        retryable: false,
        hint: `Its thread says where it is. Abort it from its card or with \`/canary ${plan.service} --env ${plan.environment} abort\`; Retry here waits again.`,
      },
    );
  await ctx.progress(
    `${ctx.state.ours ? 'Told' : `${requesterText(String(ctx.state.firstBy))} had already told`} canary \`${canaryId}\` to abort; waiting for it to return all traffic to stable (${where}).`,
  );
  return { again: 1_000 };
}

/** The canary is no longer live: check the split, then say what happened and audit it once. */
async function ended(ctx: Ctx): Promise<StepResult> {
  const { plan } = ctx;
  const canaryId = plan.signal!;
  const canary = await ctx.deps.requests.get(canaryId);
  const how = canary
    ? `${canary.state}${canary.outcome ? `: ${canary.outcome}` : ''}`
    : 'no longer on record';
  const p = ctx.deps.traffic.for(plan.target.provider);
  const seen = await p.aborted(plan.target);
  if (!seen.done)
    throw new IntegrationError(
      'kubernetes',
      `Canary \`${canaryId}\` has ended (${how}), but not all traffic is on stable: ${seen.message}.`,
      {
        retryable: false,
        hint: `\`/canary ${plan.service} --env ${plan.environment} abort\` returns the canary's share to stable; Retry here checks again.`,
      },
    );
  const signalled = ctx.state.signalled === true;
  const abortedIt = canary?.outcome?.startsWith('aborted') ?? false;
  const weight = (await ctx.deps.canary.position(canaryId))?.weight ?? plan.weight;
  let outcome: string;
  let verdict: 'succeeded' | 'no-op' = 'no-op';
  if (!signalled) outcome = `no-op: canary ${canaryId} had already ended (${how}); all traffic on stable`;
  else if (!abortedIt)
    outcome = `canary ${canaryId} ended before the abort took effect (${how}); all traffic on stable`;
  else if (!ctx.state.ours)
    outcome = `canary ${canaryId} was already being aborted by ${requesterText(String(ctx.state.firstBy))}; it ended at ${weight} %: all traffic on stable`;
  else {
    outcome = `aborted canary ${canaryId} at ${weight} %: all traffic on stable`;
    verdict = 'succeeded';
  }
  await auditAbortOnce(ctx, outcome, {
    weight,
    canaryRequest: canaryId,
    // Whether this request's signal is the one the canary acted on.
    signalled: signalled && ctx.state.ours === true,
    canaryState: canary?.state,
  });
  await ctx.save({ outcome });
  return {
    finish: outcome,
    verdict,
    detail: `Canary \`${canaryId}\` is ${canary?.state ?? 'gone'}; its thread says how it ended. ${p.describe(plan.target)}: ${seen.message}.`,
  };
}
