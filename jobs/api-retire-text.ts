import {
  deprecationHeaders,
  formatWindow,
  type BrownoutWindow,
  type DeprecationEntry,
  type EntryUsage,
} from '../src/api-retirement/index.js';
import { formatDuration } from '../src/config/duration.js';
import { esc, noteReply, type CardButton } from '../src/slack/cards.js';
import type { SlackMessage } from '../src/slack/notifier.js';
import type { ApiWarning } from '../src/api-retirement/warnings.js';
import { describeTrend } from '../src/api-retirement/trend.js';
import type { ApiRetirePlan, ApiUnretirePlan } from './api-retire-plan.js';
import { plural } from '../src/text/plural.js';

/** Brownout windows listed one per line on cards and in answers; the rest are summarised. */
export const MAX_WINDOW_LINES = 10;

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Mon 1 Mar 2027 00:00 UTC` (seconds only when there are some). */
export function formatInstant(at: string | number): string {
  const date = new Date(at);
  const iso = date.toISOString();
  const time = date.getUTCSeconds() ? iso.slice(11, 19) : iso.slice(11, 16);
  return `${WEEKDAYS[date.getUTCDay()]} ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ${time} UTC`;
}

/** A delay as typed: `500ms`, `1.5s`, `2s`, `30s`. */
export function formatDelay(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : ms < 60_000 ? `${Math.round(ms) / 1000}s` : formatDuration(ms);
}

/** Code-span text: mrkdwn-escaped, without backticks that would end the span. */
export function code(text: string): string {
  return `\`${esc(text.replace(/`/g, "'"))}\``;
}

/** What a method and pattern cover, in words. */
export function matchHint(method: string, pattern: string): string {
  const parts: string[] = [];
  if (method === '*') parts.push('any method');
  else if (method === 'GET') parts.push('GET and HEAD');
  if (pattern.endsWith('/*')) parts.push('`*` covers the rest of the path');
  if (/\/:[A-Za-z_]/.test(pattern)) parts.push('`:name` matches one path segment');
  return parts.length ? ` (${parts.join('; ')})` : '';
}

export function windowLines(windows: readonly BrownoutWindow[], max = MAX_WINDOW_LINES): string[] {
  const lines = windows.slice(0, max).map((w) => `• ${formatWindow(w)}`);
  const last = windows[windows.length - 1];
  if (windows.length > max && last) {
    lines.push(`• …and ${plural(windows.length - max, 'more window')}, the last ${formatWindow(last)}`);
  }
  return lines;
}

function delayText(maxMs: number, from: string | undefined): string {
  const start = from ? formatInstant(from) : 'approval';
  return `each matching request is held before it is served: 0 at ${start}, growing linearly to ${formatDelay(maxMs)} at the sunset (${formatDelay(maxMs / 2)} half-way).`;
}

function linkText(successor: string | undefined, policy: string | undefined): string {
  const link = deprecationHeaders({
    deprecatedAt: new Date(0).toISOString(),
    sunset: new Date(0).toISOString(),
    successor,
    policy,
  }).Link;
  return link ? `• ${code(`Link: ${link}`)}` : '• no `Link` header (no --successor or --policy was given)';
}

/** What changes between the entry in the registry and the plan, field by field. */
export function changes(previous: DeprecationEntry, plan: ApiRetirePlan): string[] {
  const out: string[] = [];
  if (previous.sunset !== plan.sunset)
    out.push(`sunset ${formatInstant(previous.sunset)} → ${formatInstant(plan.sunset)}`);
  if (previous.successor !== plan.successor)
    out.push(`successor ${previous.successor ?? '(none)'} → ${plan.successor ?? '(none)'}`);
  if (previous.policy !== plan.policy)
    out.push(`policy ${previous.policy ?? '(none)'} → ${plan.policy ?? '(none)'}`);
  if (JSON.stringify(previous.brownouts) !== JSON.stringify(plan.brownouts))
    out.push(`brownout windows ${previous.brownouts.length} → ${plan.brownouts.length}`);
  const before = previous.delay?.maxMs;
  if (before !== plan.delay?.maxMs)
    out.push(
      `delay ${before ? `up to ${formatDelay(before)}` : 'none'} → ${plan.delay ? `up to ${formatDelay(plan.delay.maxMs)}` : 'none'}`,
    );
  return out;
}

/** What the body of a refusal says instead of the endpoint. */
function refusalBody(plan: Pick<ApiRetirePlan, 'successor' | 'policy'>): string {
  if (plan.successor) return 'a body naming the successor';
  if (plan.policy) return 'a body pointing to the policy page';
  return 'a body saying there is no successor';
}

/** The plan card of an API retirement: what clients will see, and when. */
export function describeRetire(plan: ApiRetirePlan): string[] {
  const { previous } = plan;
  const lines = [
    `*Endpoint* ${code(plan.id)} of *${plan.service}*${matchHint(plan.method, plan.pattern)}`,
    `*From approval on*, matching requests are served as usual, with these headers added:`,
    plan.deprecatedAt
      ? `• ${code(`Deprecation: ${deprecationHeaders({ deprecatedAt: plan.deprecatedAt, sunset: plan.sunset }).Deprecation}`)} — deprecated since ${formatInstant(plan.deprecatedAt)}, kept from the current entry`
      : `• ${code('Deprecation: @<Unix time of approval>')} — the moment the entry is written (RFC 9745)`,
    `• ${code(`Sunset: ${new Date(plan.sunset).toUTCString()}`)} (RFC 8594)`,
    linkText(plan.successor, plan.policy),
  ];
  if (plan.brownouts.length) {
    lines.push(
      `*Brownouts* (${plan.brownouts.length}): inside each window that share of matching requests is refused with the status shown and ${refusalBody(plan)}; the others are served.`,
      ...windowLines(plan.brownouts),
    );
  } else {
    lines.push('*Brownouts* none scheduled.');
  }
  lines.push(
    plan.delay ? `*Delay* ${delayText(plan.delay.maxMs, plan.delay.from)}` : '*Delay* none.',
    `*From the sunset* (${formatInstant(plan.sunset)}) every matching request is refused with \`410 Gone\` and ${refusalBody(plan)}.`,
  );
  if (previous) {
    const changed = changes(previous.entry, plan);
    lines.push(
      `*Replaces* the current entry (written by <@${previous.entry.createdBy}> in \`${previous.entry.requestId}\`)${changed.length ? `: ${changed.join('; ')}` : ''}.`,
    );
  }
  lines.push(announceLine(plan.announceChannel));
  return lines;
}

/** The plan card of an undo: what it removes. */
export function describeUnretire(plan: ApiUnretirePlan): string[] {
  const entry = plan.previous.entry;
  const lines = [
    `*Removes* the deprecation of ${code(entry.id)} from *${plan.service}*. From approval on, matching requests are served as they were before it:`,
    '• no `Deprecation`, `Sunset` or `Link` headers',
  ];
  if (entry.brownouts.length)
    lines.push(
      `• no brownouts (${entry.brownouts.length === 1 ? 'its one window no longer applies' : `its ${entry.brownouts.length} windows no longer apply`})`,
    );
  if (entry.delay) lines.push(`• no delay (it was up to ${formatDelay(entry.delay.maxMs)})`);
  lines.push(`• no \`410 Gone\` from the sunset of ${formatInstant(entry.sunset)}`);
  lines.push(
    `*Current entry* deprecated since ${formatInstant(entry.deprecatedAt)} by <@${entry.createdBy}> (\`${entry.requestId}\`), sunset ${formatInstant(entry.sunset)}${entry.successor ? `, successor ${esc(entry.successor)}` : ''}.`,
    'Usage evidence already counted is kept until it expires.',
    announceLine(plan.announceChannel),
  );
  return lines;
}

function announceLine(channel: string | undefined): string {
  return channel
    ? `*Announcement* in <#${channel}> once it is written.`
    : '*Announcement* none: no channel is configured for this service or as the incident channel.';
}

/** The message posted in the service's channel once an entry is written. */
export function retireAnnouncement(
  entry: DeprecationEntry,
  who: { requester: string; approver?: string; requestId: string; updated: boolean },
): SlackMessage {
  const lines = [
    `:warning: *API deprecation${who.updated ? ' updated' : ''}: ${code(entry.id)} of ${entry.service}*`,
    `Sunset: *${formatInstant(entry.sunset)}* — from then on every matching request gets \`410 Gone\`.`,
  ];
  if (entry.successor) lines.push(`Successor: ${esc(entry.successor)}`);
  if (entry.policy) lines.push(`Deprecation policy: ${esc(entry.policy)}`);
  if (entry.brownouts.length)
    lines.push('Brownouts (a share of requests refused):', ...windowLines(entry.brownouts));
  if (entry.delay) lines.push(`Delay: up to ${formatDelay(entry.delay.maxMs)}, growing toward the sunset.`);
  lines.push(
    'Callers now get `Deprecation`, `Sunset` and `Link` headers. See who still calls it with ' +
      `\`/retract api ${entry.service} usage\`.`,
    `Requested by <@${who.requester}>${who.approver ? `, approved by <@${who.approver}>` : ''} (\`${who.requestId}\`).`,
  );
  return message(lines);
}

/** The reminder before a brownout or the sunset, naming who still calls the endpoint. */
export function apiWarningMessage(
  entry: DeprecationEntry,
  warning: Pick<ApiWarning, 'target' | 'targetAt' | 'leadMs'>,
  usage: EntryUsage | undefined,
  opts: { callersShown: number; days: number },
): SlackMessage {
  const when = `in ${formatDuration(warning.leadMs)}, ${formatInstant(warning.targetAt)}`;
  const window = entry.brownouts.find((w) => w.start === warning.targetAt);
  const lines = [
    warning.target === 'sunset'
      ? `:alarm_clock: *Sunset ${when}: ${code(entry.id)} of ${entry.service}* — from then on every matching request gets \`410 Gone\`.`
      : `:alarm_clock: *Brownout ${when}: ${code(entry.id)} of ${entry.service}* — ${window ? formatWindow(window) : 'a share of requests will be refused'}.`,
  ];
  if (entry.successor) lines.push(`Successor: ${esc(entry.successor)}`);
  const callers = usage?.clients ?? [];
  if (callers.length === 0) {
    lines.push(`No calls seen in the last ${opts.days} days.`);
  } else {
    lines.push(
      `Still calling it (last ${opts.days} days, ${usage!.total} request${usage!.total === 1 ? '' : 's'}, ${describeTrend(usage!.trend)}):`,
    );
    for (const client of callers.slice(0, opts.callersShown)) {
      lines.push(
        `• ${code(client.client)} — ${client.count} request${client.count === 1 ? '' : 's'} (${Math.round(client.share * 1000) / 10} %), ${describeTrend(client.trend)}`,
      );
    }
    if (callers.length > opts.callersShown)
      lines.push(
        `…and ${callers.length - opts.callersShown} more; all of them with \`/retract api ${entry.service} usage\`.`,
      );
  }
  return message(lines);
}

export function unretireAnnouncement(
  entry: DeprecationEntry,
  who: { requester: string; approver?: string; requestId: string },
): SlackMessage {
  return message([
    `:information_source: *Deprecation withdrawn: ${code(entry.id)} of ${entry.service}*`,
    'It is served as before: no deprecation headers, brownouts, delay or sunset.',
    `Requested by <@${who.requester}>${who.approver ? `, approved by <@${who.approver}>` : ''} (\`${who.requestId}\`).`,
  ]);
}

function message(lines: string[]): SlackMessage {
  return noteReply(lines.join('\n'));
}

export const UNDO_BUTTON: CardButton = {
  action: 'undo',
  text: 'Remove this deprecation',
  confirm: {
    title: 'Remove the deprecation?',
    text: 'Files a new request that takes the entry out of the registry. It needs its own approval.',
    confirm: 'File it',
  },
};
