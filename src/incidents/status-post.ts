import type { AlertRule } from '../config/alerts-schema.js';
import type { ComponentStatus } from '../integrations/statuspage/types.js';
import type { BackoutRequest } from '../requests/types.js';
import type { FinishedStep } from './lifecycle.js';
import type { StatusPageQueue } from './status-queue.js';
import { APPLIED_STEPS } from './timeline.js';

/** How long a job's end waits for its last status page post before posting the timeline anyway. */
const CLOSE_BOUND_MS = 10_000;
/** Ranks: a run's steps count up within it, its end comes last, and a later run outranks them all. */
const RUN_RANK = 1_000;
const FINAL_RANK = RUN_RANK - 1;

/** `{service}`, `{environment}`, `{alertname}`, `{value}` filled in. */
export function fillTemplate(text: string, v: Record<string, string>): string {
  return text.replace(/\{(service|environment|alertname|value)\}/g, (_, k: string) => v[k] ?? '');
}

/** What a request's job did, in the words of a public status page. */
function mitigated(request: BackoutRequest): string {
  if (request.kind === 'rollback') return `${request.service} was rolled back`;
  if (request.kind === 'flag') return `A feature of ${request.service} was switched off`;
  return `A mitigation for ${request.service} was applied`;
}

/**
 * What goes on the status page for a request's job, and when: the incident opened (when the job
 * starts, or from the card's button), one progress update when the change is in place ("rolled
 * back, verifying" — each update notifies the page's subscribers, so not one per step), and the
 * job's end: resolved when verified healthy, else an update. Posting is the queue's business.
 */
export class StatusPagePoster {
  constructor(private readonly queue: StatusPageQueue) {}

  posted(requestId: string): Promise<boolean> {
    return this.queue.posted(requestId);
  }

  /** `by`: who asked (a Slack user from the card's button, or backout itself on the rule's `auto`). */
  async opened(
    request: BackoutRequest,
    rule: AlertRule,
    meta: { alertname: string; value: string },
    by: string,
  ): Promise<void> {
    const sp = rule.statusPage!;
    const vars = { service: request.service, environment: request.environment ?? '', ...meta };
    await this.queue.open(request.id, {
      name: fillTemplate(sp.name, vars),
      body: fillTemplate(sp.body, vars),
      components: sp.components,
      by,
    });
  }

  /** After the step that puts the change in place: the page says it is being verified. */
  async progressed(request: BackoutRequest, step: FinishedStep): Promise<void> {
    const applied = APPLIED_STEPS.find((s) => step.steps.includes(s));
    if (step.name !== applied) return;
    await this.queue.update(request.id, {
      rank: step.run * RUN_RANK + step.index,
      run: step.run,
      action: 'post progress',
      status: 'monitoring',
      body: `${mitigated(request)}; we are verifying that it is healthy. Next update when it is verified.`,
      final: false,
    });
  }

  /** The job's end; waits (bounded) for it to be posted, so the timeline can show it. */
  async closed(request: BackoutRequest, rule: AlertRule): Promise<void> {
    const healthy =
      request.state === 'succeeded' && (request.verdict === 'healthy' || request.verdict === 'succeeded');
    const components: Record<string, ComponentStatus> = Object.fromEntries(
      Object.entries(rule.statusPage!.components).map(([id, impact]) => [
        id,
        healthy ? 'operational' : impact,
      ]),
    );
    const rank = request.run * RUN_RANK + FINAL_RANK;
    const queued = await this.queue.update(request.id, {
      rank,
      run: request.run,
      action: healthy ? 'resolve incident' : 'update incident',
      status: healthy ? 'resolved' : 'identified',
      body: healthy
        ? `${mitigated(request)} and is verified healthy.`
        : `The mitigation of ${request.service} ended ${request.verdict ?? request.state}; we are still working on it.`,
      components,
      final: true,
    });
    if (!queued) return;
    const deadline = Date.now() + CLOSE_BOUND_MS;
    while (Date.now() < deadline && !(await this.queue.settled(request.id, rank)))
      await new Promise((resolve) => setTimeout(resolve, 200).unref());
  }
}
