import type { AuditLog } from '../audit/log.js';
import type { AlertRule } from '../config/alerts-schema.js';
import type { ComponentStatus, StatusPage } from '../integrations/statuspage/types.js';
import type { Logger } from '../observability/logger.js';
import { cardKey } from '../requests/card-view.js';
import type { BackoutRequest } from '../requests/types.js';
import type { RedisClient } from '../redis/client.js';
import { esc } from '../slack/cards.js';
import type { Notifier } from '../slack/notifier.js';
import { alertRequestKey } from './keys.js';

const ATTEMPTS = 3;
/** How long a job's end waits for the status page before posting the timeline anyway. */
const CLOSE_BOUND_MS = 20_000;

/** `{service}`, `{environment}`, `{alertname}`, `{value}` filled in. */
export function fillTemplate(text: string, v: Record<string, string>): string {
  return text.replace(/\{(service|environment|alertname|value)\}/g, (_, k: string) => v[k] ?? '');
}

/**
 * Status page posts for one job, off its critical path: the incident is opened in the background
 * when the job starts (a few bounded attempts, each audited), and updated or resolved when it ends.
 * A status page that does not answer delays these posts; it never holds up the rollback.
 */
export class StatusPagePoster {
  private readonly opening = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: {
      statusPage: StatusPage;
      pageId: string;
      redis: RedisClient;
      prefix: string;
      audit: AuditLog;
      notifier: Notifier;
      log: Logger;
    },
  ) {}

  private key(id: string) {
    return `${alertRequestKey(this.deps.prefix, id)}:statuspage`;
  }

  async posted(requestId: string): Promise<boolean> {
    return this.opening.has(requestId) || (await this.deps.redis.exists(this.key(requestId))) === 1;
  }

  /** `by`: who asked (a Slack user from the card's button, or backout itself on the rule's `auto`). */
  opened(
    request: BackoutRequest,
    rule: AlertRule,
    meta: { alertname: string; value: string },
    by: string,
  ): void {
    const sp = rule.statusPage!;
    const vars = { service: request.service, environment: request.environment ?? '', ...meta };
    const components = sp.components as Record<string, ComponentStatus>;
    const work = this.attempts(request, 'create incident', by, async () => {
      const existing = await this.deps.redis.get(this.key(request.id));
      if (existing) return existing;
      const { id } = await this.deps.statusPage.create({
        pageId: this.deps.pageId,
        name: fillTemplate(sp.name, vars),
        status: 'identified',
        body: fillTemplate(sp.body, vars),
        components,
      });
      await this.deps.redis.set(this.key(request.id), id, 'EX', 30 * 86_400);
      return id;
    }).then(() => undefined);
    this.opening.set(request.id, work);
    void work.finally(() => this.opening.delete(request.id));
  }

  async closed(request: BackoutRequest, rule: AlertRule): Promise<void> {
    const done = (async () => {
      await this.opening.get(request.id);
      const incidentId = await this.deps.redis.get(this.key(request.id));
      if (!incidentId) return;
      const healthy =
        request.state === 'succeeded' && (request.verdict === 'healthy' || request.verdict === 'succeeded');
      const components = Object.fromEntries(
        Object.entries(rule.statusPage!.components).map(([id, impact]) => [
          id,
          healthy ? 'operational' : impact,
        ]),
      ) as Record<string, ComponentStatus>;
      await this.attempts(request, healthy ? 'resolve incident' : 'update incident', 'backout', () =>
        this.deps.statusPage
          .update({
            pageId: this.deps.pageId,
            incidentId,
            status: healthy ? 'resolved' : 'identified',
            body: healthy
              ? `${request.service} was rolled back and is verified healthy.`
              : `The rollback of ${request.service} ended ${request.verdict ?? request.state}; we are still working on it.`,
            components,
          })
          .then(() => incidentId),
      );
    })();
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, CLOSE_BOUND_MS).unref())]);
  }

  /** A few bounded attempts, each audited; the thread hears the result once. */
  private async attempts(
    request: BackoutRequest,
    action: string,
    by: string,
    call: () => Promise<string>,
  ): Promise<string | undefined> {
    const { deps } = this;
    let last = '';
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        const incidentId = await call();
        await this.record(request, action, by, attempt, { ok: true, incidentId });
        await deps.notifier.reply(cardKey(request.id), `${request.id}.statuspage.${action.split(' ')[0]}`, {
          text: `:satellite_antenna: Status page: ${action} done (incident \`${esc(incidentId)}\`).`,
        });
        return incidentId;
      } catch (err) {
        last = (err as Error).message;
        await this.record(request, action, by, attempt, { ok: false, error: last });
        if (attempt < ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, 1_000 * attempt).unref());
      }
    }
    deps.log.warn({ requestId: request.id, action, err: last }, 'status page call failed');
    await deps.notifier.reply(cardKey(request.id), `${request.id}.statuspage.${action.split(' ')[0]}`, {
      text: `:warning: Status page: could not ${action} after ${ATTEMPTS} attempts (${esc(last)}). The rollback was not held up by it; post the update on the status page by hand.`,
    });
    return undefined;
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
