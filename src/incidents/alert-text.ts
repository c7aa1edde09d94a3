import { esc } from '../slack/cards.js';
import type { SlackMessage } from '../slack/notifier.js';
import type { BackoutRequest } from '../requests/types.js';
import { slackDate } from '../text/time.js';
import { firingSince, groupLabels, type AlertGroup } from './alert.js';

/** Who files an alert's proposal, as the card's requester. */
export const SOURCE = { alertmanager: 'Alertmanager', webhook: 'alert webhook' } as const;

function name(group: AlertGroup): string {
  const l = groupLabels(group);
  return `\`${esc(l.alertname ?? 'alert')}\`${l.severity ? ` (${esc(l.severity)})` : ''}`;
}

function value(group: AlertGroup): string {
  const first = group.alerts.find((a) => a.status === 'firing') ?? group.alerts[0];
  const v = first?.annotations.value ?? group.commonAnnotations.value ?? first?.labels.value;
  return v ? ` — value *${esc(v.slice(0, 80))}*` : '';
}

function since(group: AlertGroup): string {
  const at = firingSince(group);
  return at ? ` since ${slackDate(at)}` : '';
}

/** The request's reason (plain text: the card escapes it). */
export function alertReason(group: AlertGroup, rule: string): string {
  const l = groupLabels(group);
  const summary = group.commonAnnotations.summary ?? group.alerts[0]?.annotations.summary;
  return `${SOURCE[group.source]} alert ${l.alertname ?? 'alert'} (rule ${rule})${summary ? `: ${summary}` : ''}`.slice(
    0,
    500,
  );
}

/** The card's status detail while the proposal waits: which alert, its value, since when, and its latest news. */
export function alertDetail(group: AlertGroup, notifications: number, request: BackoutRequest): string {
  const firing = group.alerts.filter((a) => a.status === 'firing').length;
  if (group.status === 'resolved') {
    const ended = Math.max(...group.alerts.map((a) => a.endsAt ?? 0));
    return `:white_check_mark: Alert ${name(group)} resolved${ended > 0 ? ` at ${slackDate(ended)}` : ''}, before anyone approved. Approve only if ${esc(request.title.charAt(0).toLowerCase() + request.title.slice(1))} is still wanted; otherwise Reject.`;
  }
  const more =
    notifications > 1
      ? `\nNotified ${notifications} times; ${firing} alert${firing === 1 ? '' : 's'} firing in the group now.`
      : '';
  return `:rotating_light: Alert ${name(group)} firing${since(group)}${value(group)}.${more}`;
}

/** In the thread of a request that was already acting on the target when the alert fired. */
export function linkedNote(group: AlertGroup, holder: BackoutRequest, seen: number): SlackMessage {
  return {
    text: `:link: Alert ${name(group)} fired${since(group)}${value(group)}. \`${holder.id}\` (this request) is already ${holder.state === 'pending' ? 'waiting for approval' : holder.state}, so no second proposal was filed for this alert.${seen > 1 ? ` (${seen} notifications.)` : ''}`,
  };
}

export function resolvedNote(group: AlertGroup, request: BackoutRequest): SlackMessage {
  const ended = Math.max(...group.alerts.map((a) => a.endsAt ?? 0));
  return {
    text: `:white_check_mark: Alert ${name(group)} resolved${ended > 0 ? ` at ${slackDate(ended)}` : ''} (this request is ${request.state}).`,
  };
}

/** In the channel when a rule matched but nothing could be proposed. */
export function alertNotice(group: AlertGroup, rule: string, why: string): SlackMessage {
  return {
    text: `:warning: Alert ${name(group)} fired${since(group)}${value(group)} and matched rule \`${esc(rule)}\`, but I proposed nothing: ${esc(why)} Act by hand (\`/rollback\`, \`/canary … abort\`, \`/flag\`) if it needs a mitigation.`,
  };
}
