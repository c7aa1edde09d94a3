import { formatDuration } from '../src/config/duration.js';
import type { GateResult } from '../src/gates/types.js';
import type { HealthConfig } from '../src/config/schema.js';
import { IntegrationError } from '../src/errors.js';
import { argoAfterAbort } from '../src/integrations/traffic/argo-plugin.js';
import type { Stop, TrafficProvider, TrafficTarget } from '../src/integrations/traffic/types.js';
import type { StepContext, StepResult } from '../src/queue/job-definition.js';
import { auditContext } from '../src/queue/step-runner.js';
import { cardKey } from '../src/requests/card-view.js';
import { actionReply, esc, noteReply, requesterText, type CardButton } from '../src/slack/cards.js';
import { inWords, readingsLine, type Round } from './canary-analysis.js';
import type { CanaryPhase, CanarySignals } from './canary-control.js';
import type { JobDeps } from './deps.js';
import { plural } from '../src/text/plural.js';
import { slackDate } from '../src/text/time.js';

export interface CanaryPlan {
  service: string;
  environment: string;
  target: TrafficTarget;
  /** The canary image, and the container that carries it. */
  image: string;
  container: string;
  /** What stable ran when the plan was made (unknown for an aborted Rollout). */
  stableImage?: string;
  /** What the plan was computed from: the job refuses to start if these moved. */
  from: { weight: number; generation: number; canaryImage?: string };
  /** The stops before the 100 % gate. */
  stops: Stop[];
  /** Set when the Rollout's own steps replace the configured ones. */
  stopsNote?: string;
  dwellMs: number;
  intervalMs: number;
  maxFailedChecks: number;
  /** How long one move (a weight change, a rollout) may take before it counts as failed. */
  timeoutMs: number;
  health?: HealthConfig;
  /** The gates as they stood when the canary was filed (the plan card lists them). */
  gates?: GateResult[];
  /** The change ticket given with --ticket. */
  ticket?: string;
  /** Failing gates overridden with --break-glass. */
  override?: { by: string; reason: string };
}

export type Ctx = StepContext<CanaryPlan, JobDeps>;

/** The walk's checkpoint: where it is, and what the analysis has seen. */
export interface Walk {
  stop: number;
  phase: 'move' | 'dwell' | 'gate';
  /** The weight in effect now. */
  weight: number;
  movingSince?: number;
  dwellFrom?: number;
  dwellUntil?: number;
  nextRoundAt?: number;
  rounds: number;
  failedChecks: number;
  last?: Round;
  /** The failed readings so far, newest last (capped). */
  failures: string[];
  /** The stop whose weight change was last audited. */
  audited?: number;
  gateSince?: number;
}

export interface Aborting {
  auto: boolean;
  by?: string;
  reason: string;
  at: number;
  weight: number;
  /** Step number (1-based) the canary was at. */
  step: number;
  rounds: number;
  failedChecks: number;
  lastAnalysis: string;
  failures: string[];
  /** Set when promotion had already moved the stable workload to the canary image. */
  stableChanged?: boolean;
}

export const totalSteps = (plan: CanaryPlan) => plan.stops.length + 1;

export function provider(ctx: Ctx): TrafficProvider {
  return ctx.deps.traffic.for(ctx.plan.target.provider);
}

export function walkOf(ctx: Ctx): Walk {
  const saved = ctx.state.walk as Walk | undefined;
  return saved
    ? { ...saved, failures: [...saved.failures] }
    : { stop: 0, phase: 'move', weight: ctx.plan.from.weight, rounds: 0, failedChecks: 0, failures: [] };
}

export async function saveWalk(ctx: Ctx, walk: Walk): Promise<void> {
  await ctx.save({ walk });
}

export function signals(ctx: Ctx): Promise<CanarySignals> {
  return ctx.deps.canary.signals(ctx.request.id);
}

export const gateKey = (requestId: string) => `${requestId}.gate`;

function analysisLine(plan: CanaryPlan, w: Walk): string {
  if (!w.last) return `Analysis every ${formatDuration(plan.intervalMs)}; none yet at this weight.`;
  return `Last analysis ${slackDate(w.last.at, { seconds: true })} (round ${w.rounds}): ${readingsLine(w.last)} — failed checks ${w.failedChecks} of ${plan.maxFailedChecks}.`;
}

/** The card's status line and the published position, from the walk. */
export async function show(ctx: Ctx, w: Walk, phase: CanaryPhase, extra?: string): Promise<void> {
  const { plan } = ctx;
  const now = Date.now();
  const step = `step ${Math.min(w.stop + 1, totalSteps(plan))} of ${totalSteps(plan)}`;
  let head: string;
  switch (phase) {
    case 'moving':
      head = `:arrows_counterclockwise: Moving the canary \`${plan.image}\` to *${plan.stops[w.stop]?.weight ?? 100} %* (${step}); ${w.weight} % now.`;
      break;
    case 'dwell':
      head = `:traffic_light: Canary \`${plan.image}\` at *${w.weight} %* · ${step} · next step ${slackDate(w.dwellUntil ?? now, { seconds: true })} (${inWords((w.dwellUntil ?? now) - now)}).`;
      break;
    case 'gate':
      head = `:raised_hand: Canary \`${plan.image}\` at *${w.weight} %* · waiting since ${slackDate(w.gateSince ?? now, { seconds: true })} for an Approve to go to 100 %.`;
      break;
    default:
      head = extra ?? '';
  }
  const lines = [head];
  if (phase === 'moving' || phase === 'dwell' || phase === 'gate') lines.push(analysisLine(plan, w));
  if (extra && phase !== 'promoting' && phase !== 'aborting' && phase !== 'finished') lines.push(extra);
  await ctx.deps.canary.publish(ctx.request.id, {
    phase,
    stop: w.stop,
    stops: plan.stops.map((s) => s.weight),
    weight: w.weight,
    ...(phase === 'dwell' && w.dwellUntil ? { nextAt: w.dwellUntil } : {}),
    failedChecks: w.failedChecks,
    maxFailedChecks: plan.maxFailedChecks,
    ...(w.last ? { analysis: readingsLine(w.last) } : {}),
    at: now,
  });
  await ctx.deps.statusLine(ctx.request.id, lines.filter(Boolean).join('\n'));
}

export function gateButtons(plan: CanaryPlan, w: Walk): CardButton[] {
  return [
    {
      action: 'promote',
      text: 'Promote to 100 %',
      style: 'primary',
      confirm: {
        title: 'Promote to 100 %?',
        text: `${plan.image} becomes stable; analysis runs until the end. Last analysis: ${readingsLine(w.last)}.`,
        confirm: 'Promote',
      },
    },
    {
      action: 'abort',
      text: 'Abort',
      style: 'danger',
      confirm: {
        title: 'Abort the canary?',
        text: 'All traffic returns to stable now. No approval is needed.',
        confirm: 'Abort',
      },
    },
  ];
}

/** Records why the canary stops, then returns traffic to stable. */
export async function startAbort(
  ctx: Ctx,
  w: Walk,
  why: { auto: boolean; by?: string; reason: string; stableChanged?: boolean },
): Promise<StepResult> {
  if (!ctx.state.aborting) {
    const aborting: Aborting = {
      ...why,
      at: Date.now(),
      weight: w.weight,
      step: Math.min(w.stop + 1, totalSteps(ctx.plan)),
      rounds: w.rounds,
      failedChecks: w.failedChecks,
      lastAnalysis: readingsLine(w.last),
      failures: w.failures.slice(-5),
    };
    await ctx.save({ aborting });
  }
  return returnToStable(ctx);
}

/** A person as a mention; an alert source (an auto-approved alert's abort) by its name. */
function abortedBy(a: Aborting): string {
  return a.auto ? 'automatically' : `by ${requesterText(a.by ?? 'unknown')}`;
}

function abortOutcome(a: Aborting): string {
  return `aborted ${abortedBy(a)} at ${a.weight} %: ${a.reason}`;
}

/**
 * Returns all traffic to stable and waits until the provider says so; then audits the
 * abort with the numbers and says so in the thread, once. Re-entrant: a job woken or
 * restarted mid-abort carries on from here.
 */
export async function returnToStable(ctx: Ctx): Promise<StepResult> {
  const a = ctx.state.aborting as Aborting;
  const { plan } = ctx;
  const p = provider(ctx);
  const w = walkOf(ctx);
  if (!ctx.state.abortShown) {
    await show(ctx, w, 'aborting', `:rewind: Aborting: returning all traffic to stable (${esc(a.reason)}).`);
    await ctx.save({ abortShown: true });
  }
  const result = await p.abort(plan.target);
  const seen =
    result === 'waiting'
      ? { done: false, message: (await p.read(plan.target)).summary }
      : await p.aborted(plan.target);
  if (!seen.done) {
    if (Date.now() - a.at > plan.timeoutMs) {
      throw new IntegrationError(
        'kubernetes',
        `Could not confirm that all traffic is back on stable after ${formatDuration(plan.timeoutMs)}: ${seen.message}.`,
        { retryable: false, hint: `Check ${p.describe(plan.target)} by hand; Retry repeats the abort.` },
      );
    }
    await ctx.progress(`Returning traffic to stable: ${seen.message}`);
    return { again: 1_000 };
  }
  const outcome = abortOutcome(a);
  if (!ctx.state.abortAudited) {
    await ctx.deps.audit.append({
      type: 'canary.aborted',
      ...auditContext(ctx.request),
      outcome,
      details: {
        auto: a.auto,
        by: a.by ?? 'backout',
        reason: a.reason,
        weight: a.weight,
        step: a.step,
        rounds: a.rounds,
        failedChecks: a.failedChecks,
        maxFailedChecks: plan.maxFailedChecks,
        lastAnalysis: a.lastAnalysis,
        failures: a.failures,
        provider: plan.target.provider,
        image: plan.image,
      },
    });
    await ctx.save({ abortAudited: true });
  }
  const lines = [
    `:rewind: *Canary aborted ${abortedBy(a)}* at ${a.weight} % (step ${a.step} of ${totalSteps(plan)}): ${esc(a.reason)}`,
    `All traffic is back on stable${plan.stableImage && !a.stableChanged ? ` (\`${plan.stableImage}\`)` : ''}: ${seen.message}.`,
    `Analysis: ${plural(a.rounds, 'round')}, failed checks ${a.failedChecks} of ${plan.maxFailedChecks}. Last: ${a.lastAnalysis}.`,
  ];
  if (a.failures.length) lines.push(`Failures: ${a.failures.join(' | ')}`);
  if (a.stableChanged)
    lines.push(
      `:warning: Promotion had already set the stable workload to \`${plan.image}\`; to go back, \`/rollback ${plan.service} --env ${plan.environment}\`.`,
    );
  if (plan.target.provider === 'argo-rollouts' && ctx.state.deployed && !a.stableChanged)
    lines.push(`:warning: ${argoAfterAbort(plan.target, plan.image)}`);
  // The whole story once, as its own reply; the step and the gate only point to it.
  await ctx.note('aborted', lines.join('\n'));
  const summary = `:rewind: Aborted ${abortedBy(a)} at ${a.weight} %: all traffic is back on stable (the reply below says why).`;
  if (w.gateSince !== undefined) {
    await ctx.deps.notifier.update(
      gateKey(ctx.request.id),
      actionReply(ctx.request, `${summary} Nothing is left to approve.`, []),
    );
  }
  await show(ctx, w, 'finished', `:rewind: Aborted at ${a.weight} %; all traffic on stable.`);
  await ctx.save({ outcome });
  return { finish: outcome, detail: summary };
}

/** Posts (once) or refreshes the promotion gate message in the thread. */
export async function postGate(ctx: Ctx, w: Walk, text: string, fresh: boolean): Promise<void> {
  const message = actionReply(ctx.request, text, gateButtons(ctx.plan, w));
  if (fresh) await ctx.deps.notifier.reply(cardKey(ctx.request.id), gateKey(ctx.request.id), message);
  else await ctx.deps.notifier.update(gateKey(ctx.request.id), message);
}

export function closeGate(ctx: Ctx, text: string): Promise<void> {
  return ctx.deps.notifier.update(gateKey(ctx.request.id), noteReply(text));
}
