import type { AlertRule } from '../config/alerts-schema.js';
import { cardKey } from '../requests/card-view.js';
import type { RequestStore } from '../requests/store.js';
import { actionReply, esc } from '../slack/cards.js';
import type { Notifier } from '../slack/notifier.js';
import { valueOf, type AlertGroup } from './alert.js';
import { fillTemplate } from './status-post.js';

/** The drafted status page incident, in the card's thread, with the button that posts it (`statusPage.auto: false`). */
export async function offerStatusPage(
  deps: { requests: RequestStore; notifier: Notifier },
  requestId: string,
  rule: AlertRule,
  labels: Record<string, string>,
  group: AlertGroup,
): Promise<void> {
  const request = await deps.requests.get(requestId);
  if (!request || !rule.statusPage) return;
  const vars = {
    service: request.service,
    environment: request.environment ?? '',
    alertname: labels.alertname ?? '',
    value: valueOf(group, rule.valueFrom) ?? '',
  };
  const name = fillTemplate(rule.statusPage.name, vars);
  const body = fillTemplate(rule.statusPage.body, vars);
  await deps.notifier.reply(
    cardKey(requestId),
    `${requestId}.statuspage-offer`,
    actionReply(request, `:satellite_antenna: *Status page draft:* ${esc(name)}\n${esc(body)}`, [
      {
        action: 'statusPage',
        text: 'Post to status page',
        confirm: { title: 'Post to the status page?', text: `${esc(name)}: ${esc(body)}`, confirm: 'Post' },
      },
    ]),
  );
}
