import { formatDuration } from '../src/config/duration.js';
import { windowVerdict } from '../src/policy/windows.js';
import type { Step, StepResult } from '../src/queue/job-definition.js';
import { auditContext } from '../src/queue/step-runner.js';
import { analyse, failedLine, readingsLine } from './canary-analysis.js';
import type { CanarySignals } from './canary-control.js';
import {
  closeGate,
  postGate,
  provider,
  returnToStable,
  saveWalk,
  show,
  signals,
  startAbort,
  totalSteps,
  walkOf,
  type CanaryPlan,
  type Ctx,
  type Walk,
} from './canary-shared.js';
import { guardSplit } from './canary-guard.js';
import type { JobDeps } from './deps.js';
import { plural } from '../src/text/plural.js';
import { slackDate } from '../src/text/time.js';

const MAX_FAILURES_KEPT = 20;

/** One analysis round at the current weight; aborts when the failed checks reach the limit. */
export async function round(
  ctx: Ctx,
  w: Walk,
  during: { stableChanged?: boolean } = {},
): Promise<StepResult | undefined> {
  const { plan } = ctx;
  const r = await analyse(ctx.deps.health, plan.health, { stop: w.stop, weight: w.weight });
  w.rounds += 1;
  w.last = r;
  w.nextRoundAt = Date.now() + plan.intervalMs;
  if (!r.ok) {
    w.failedChecks += 1;
    w.failures = [...w.failures, `${w.weight} %, round ${w.rounds}: ${failedLine(r)}`].slice(
      -MAX_FAILURES_KEPT,
    );
  }
  await saveWalk(ctx, w);
  await ctx.progress(
    `Round ${w.rounds} at ${w.weight} % (step ${Math.min(w.stop + 1, totalSteps(plan))} of ${totalSteps(plan)}): ${readingsLine(r)} — failed checks ${w.failedChecks} of ${plan.maxFailedChecks}.`,
  );
  if (w.failedChecks >= plan.maxFailedChecks) {
    return startAbort(ctx, w, {
      auto: true,
      reason: `${plural(w.failedChecks, 'failed check')}, the limit is ${plan.maxFailedChecks} — ${failedLine(r)}`,
      ...during,
    });
  }
  return undefined;
}

/** A window closed to automated moves holds the next step (the canary keeps its weight), saying until when. */
function heldByWindow(ctx: Ctx, w: Walk): Promise<StepResult> | undefined {
  const now = Date.now();
  const verdict = windowVerdict(ctx.deps.config.windows, ctx.plan, now, { automated: true });
  if (verdict.open) return undefined;
  const until = verdict.reopensAt;
  const text = `:no_entry: The next step (${ctx.plan.stops[w.stop]!.weight} %) waits: the ${verdict.window.name} ${verdict.window.kind} window holds automated moves${until ? ` until ${slackDate(until)}` : ''}. The canary stays at ${w.weight} %; abort stays possible.`;
  return ctx
    .note(`window-${w.stop}-${until ?? 0}`, text)
    .then(() => ({ again: Math.max(1_000, Math.min((until ?? now + 60_000) - now, 60_000)) }));
}

/** Sets the weight of the current stop and waits until the provider says it is in effect. */
async function move(ctx: Ctx, w: Walk): Promise<StepResult | undefined> {
  const { plan } = ctx;
  const stop = plan.stops[w.stop]!;
  const p = provider(ctx);
  if (w.movingSince === undefined) {
    const held = heldByWindow(ctx, w);
    if (held) return held;
  }
  if (w.movingSince === undefined) {
    w.movingSince = Date.now();
    await saveWalk(ctx, w);
    await show(ctx, w, 'moving');
  }
  await p.advance(plan.target, stop);
  const seen = await p.observe(plan.target, stop);
  if (seen.failed)
    return startAbort(ctx, w, { auto: true, reason: `${stop.weight} % did not take effect: ${seen.failed}` });
  if (!seen.done) {
    if (Date.now() - w.movingSince > plan.timeoutMs) {
      return startAbort(ctx, w, {
        auto: true,
        reason: `traffic did not reach ${stop.weight} % within ${formatDuration(plan.timeoutMs)}: ${seen.message}`,
      });
    }
    await ctx.progress(`Moving to ${stop.weight} %: ${seen.message}`);
    return { again: 1_000 };
  }
  const previous = w.weight;
  const now = Date.now();
  w.weight = stop.weight;
  w.phase = 'dwell';
  w.dwellFrom = now;
  w.dwellUntil = now + plan.dwellMs;
  w.nextRoundAt = now + Math.min(plan.intervalMs, plan.dwellMs);
  delete w.movingSince;
  if (w.audited !== w.stop) {
    await ctx.deps.audit.append({
      type: 'canary.weight',
      ...auditContext(ctx.request),
      details: {
        weight: stop.weight,
        previous,
        step: w.stop + 1,
        of: totalSteps(plan),
        provider: plan.target.provider,
        image: plan.image,
        ...(w.last ? { analysisBefore: readingsLine(w.last) } : {}),
      },
    });
    w.audited = w.stop;
  }
  await saveWalk(ctx, w);
  await ctx.note(
    `weight-${w.stop}`,
    `:arrow_right: *${stop.weight} %* of traffic to the canary \`${plan.image}\` (step ${w.stop + 1} of ${totalSteps(plan)}): ${seen.message}.\nDwell ${formatDuration(plan.dwellMs)} with analysis every ${formatDuration(Math.min(plan.intervalMs, plan.dwellMs))}; next step at ${slackDate(w.dwellUntil, { seconds: true })}.`,
  );
  await show(ctx, w, 'dwell');
  return undefined;
}

/** When a person cut this stop's dwell short (`promote`, or `promote --full` for every stop). */
function cutAt(sig: CanarySignals, w: Walk): { at: number; by: string } | undefined {
  if (sig.full) return sig.full;
  if (sig.skip && sig.skip.stop === w.stop) return sig.skip;
  return undefined;
}

/** Dwells at the stop with analysis rounds; moves on once the dwell is over and a round after it passed. */
async function dwell(ctx: Ctx, w: Walk, sig: CanarySignals): Promise<StepResult | undefined> {
  const { plan } = ctx;
  const cut = cutAt(sig, w);
  const endAt = cut ? Math.min(w.dwellUntil!, Math.max(cut.at, w.dwellFrom!)) : w.dwellUntil!;
  const fresh = (x: Walk) => x.last !== undefined && x.last.stop === x.stop && x.last.at >= endAt;
  const now = Date.now();
  if (now >= w.nextRoundAt! || (now >= endAt && !fresh(w))) {
    const stopped = await round(ctx, w);
    if (stopped) return stopped;
  }
  if (Date.now() >= endAt && fresh(w) && w.last!.ok) {
    const from = plan.stops[w.stop]!.weight;
    if (cut && endAt < w.dwellUntil!) {
      await ctx.note(
        `cut-${w.stop}`,
        `:fast_forward: <@${cut.by}> cut the dwell at ${from} % short${sig.full ? ' and skipped the remaining steps (promote --full)' : ''}. Analysis now: ${readingsLine(w.last)}.`,
      );
    }
    w.stop = sig.full ? plan.stops.length : w.stop + 1;
    w.phase = w.stop < plan.stops.length ? 'move' : 'gate';
    delete w.dwellFrom;
    delete w.dwellUntil;
    await saveWalk(ctx, w);
    return undefined;
  }
  await show(ctx, w, 'dwell');
  const wakeAt = Date.now() >= endAt ? w.nextRoundAt! : Math.min(w.nextRoundAt!, endAt);
  return { again: Math.max(250, wakeAt - Date.now()) };
}

function gateText(plan: CanaryPlan, ctx: Ctx, w: Walk): string {
  const r = ctx.request;
  return [
    `:raised_hand: *Approval needed to go to 100 %* — the canary \`${plan.image}\` has ${w.weight} % of ${plan.service}'s traffic in ${plan.environment}.`,
    `Analysis: ${plural(w.rounds, 'round')}, failed checks ${w.failedChecks} of ${plan.maxFailedChecks}. Last round ${w.last ? slackDate(w.last.at, { seconds: true }) : ''}: ${readingsLine(w.last)}.`,
    plan.target.provider === 'argo-rollouts'
      ? `*Promote to 100 %* fully promotes the Rollout (\`promote --full\`): the new version becomes stable.`
      : `*Promote to 100 %* gives the stable Deployment \`${plan.target.stableDeployment}\` the canary's pod spec, waits for it to roll out, then hands all traffic back to stable and scales the canary down. The canary never gets more than its current ${w.weight} %.`,
    `It needs an approver${r.approval.twoPerson ? ` other than <@${r.requester}>` : ''}. *Abort* returns all traffic to stable now. Analysis continues every ${formatDuration(plan.intervalMs)} while this waits.`,
  ].join('\n');
}

/** Waits for a human Approve of the move to 100 %, analysing at the current weight meanwhile. */
async function gate(ctx: Ctx, w: Walk, sig: CanarySignals): Promise<StepResult> {
  const { plan } = ctx;
  const first = w.gateSince === undefined;
  if (first) {
    w.gateSince = Date.now();
    w.nextRoundAt = Math.max(w.nextRoundAt ?? 0, Date.now() + plan.intervalMs);
    await saveWalk(ctx, w);
    await postGate(ctx, w, gateText(plan, ctx, w), true);
  }
  if (sig.approved) {
    const text = `:white_check_mark: Promotion to 100 % approved by <@${sig.approved.by}> at ${slackDate(sig.approved.at, { seconds: true })}, with the canary at ${w.weight} % and ${plural(w.failedChecks, 'failed check')}. Last analysis: ${readingsLine(w.last)}.`;
    await closeGate(ctx, text);
    return {
      detail: `Walked to ${w.weight} % with ${plural(w.rounds, 'analysis round')}, ${w.failedChecks} failed; 100 % approved by <@${sig.approved.by}>.`,
    };
  }
  if (Date.now() >= w.nextRoundAt!) {
    const stopped = await round(ctx, w);
    if (stopped) return stopped;
    await postGate(ctx, w, gateText(plan, ctx, w), false);
  }
  await show(ctx, w, 'gate');
  return { again: Math.max(250, w.nextRoundAt! - Date.now()) };
}

export const walk: Step<CanaryPlan, JobDeps> = {
  name: 'walk',
  label: 'Walk the steps: set the weight, dwell, analyse; then wait for approval of 100 %',
  dryRun: 'skip',
  async run(ctx) {
    if (ctx.state.aborting) return returnToStable(ctx);
    await ctx.deps.locks.extend(ctx.request.target, ctx.request.id);
    const sig = await signals(ctx);
    const w = walkOf(ctx);
    if (sig.abort)
      return startAbort(ctx, w, {
        auto: false,
        by: sig.abort.by,
        reason: sig.abort.reason ?? 'abort requested',
      });
    // Before each step: the split must still be where backout left it (or where it was moving it).
    const stop = ctx.plan.stops[w.stop];
    await guardSplit(ctx, w, w.phase === 'move' && stop ? [w.weight, stop.weight] : [w.weight]);
    const result = await advanceWalk(ctx, w, sig);
    // A signal that came in while this run worked acts now, not at the next round.
    if ('again' in result && result.again > 1_000) {
      const latest = await signals(ctx);
      if (JSON.stringify(latest) !== JSON.stringify(sig)) return { again: 0 };
    }
    return result;
  },
};

/** Runs the walk as far as it can go now; a run may pass several phases (a stop reached, its dwell cut short, the next move). */
async function advanceWalk(ctx: Ctx, w: Walk, sig: CanarySignals): Promise<StepResult & object> {
  for (let guard = 0; guard < 2 * ctx.plan.stops.length + 4; guard++) {
    let result: StepResult | undefined;
    if (w.phase === 'move') result = await move(ctx, w);
    else if (w.phase === 'dwell') result = await dwell(ctx, w, sig);
    else result = await gate(ctx, w, sig);
    if (result) return result;
  }
  return { again: 1_000 };
}
