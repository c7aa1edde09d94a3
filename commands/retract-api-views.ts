import {
  formatWindow,
  type BrownoutWindow,
  type DeprecationEntry,
  type ClientUsage,
  type EntryUsage,
} from '../src/api-retirement/index.js';
import { describeTrend } from '../src/api-retirement/trend.js';
import { formatDuration } from '../src/config/duration.js';
import { esc, LIMITS, truncate } from '../src/slack/cards.js';
import type { SlackMessage } from '../src/slack/notifier.js';
import { code, formatDelay, formatInstant } from '../jobs/api-retire-text.js';
import { plural } from '../src/text/plural.js';
import { slackDate } from '../src/text/time.js';

/** Clients listed per endpoint in a usage report; the rest are summed up in one line. */
export const MAX_CLIENTS_SHOWN = 15;
/** The usage report's period: the middleware keeps daily counts for 35 days. */
export const USAGE_DAYS = 30;

const OVERFLOW_CLIENT = 'other';
const ANONYMOUS_CLIENT = 'anonymous';

function relative(at: string, now: Date): string {
  const ms = Date.parse(at) - now.getTime();
  return ms >= 0 ? `in ${formatDuration(ms)}` : `${formatDuration(-ms)} ago`;
}

function activeWindow(windows: readonly BrownoutWindow[], at: number): BrownoutWindow | undefined {
  return windows.find((w) => Date.parse(w.start) <= at && at < Date.parse(w.end));
}

/** Where an entry stands at `now`, in words. */
export function entryState(entry: DeprecationEntry, now: Date): string {
  const at = now.getTime();
  if (at >= Date.parse(entry.sunset))
    return `:no_entry: *retired*: answering \`410 Gone\` since ${formatInstant(entry.sunset)}`;
  const window = activeWindow(entry.brownouts, at);
  if (window) return `:warning: *in a brownout now*: ${formatWindow(window)}`;
  return `:hourglass_flowing_sand: deprecated, sunset ${formatInstant(entry.sunset)} (${relative(entry.sunset, now)})`;
}

function entryLines(entry: DeprecationEntry, now: Date): string[] {
  const at = now.getTime();
  const lines = [`• ${code(entry.id)} — ${entryState(entry, now)}`];
  const facts = [
    `deprecated since ${formatInstant(entry.deprecatedAt)} by <@${entry.createdBy}> (\`${entry.requestId}\`)`,
  ];
  if (entry.successor) facts.push(`successor ${esc(entry.successor)}`);
  if (entry.policy) facts.push(`policy ${esc(entry.policy)}`);
  lines.push(`    ${facts.join(' · ')}`);
  if (entry.brownouts.length) {
    const upcoming = entry.brownouts.filter((w) => Date.parse(w.start) > at);
    const next = upcoming[0];
    lines.push(
      `    brownouts: ${plural(entry.brownouts.length, 'window')}, ${upcoming.length} still to come${next ? `; next ${formatWindow(next)}` : ''}`,
    );
  }
  if (entry.delay)
    lines.push(`    delay: up to ${formatDelay(entry.delay.maxMs)}, growing toward the sunset`);
  return lines;
}

/** `/retract api <service> list`. */
export function listMessage(service: string, entries: readonly DeprecationEntry[], now: Date): SlackMessage {
  if (entries.length === 0) {
    return {
      text: `${service} has no deprecated endpoints. Deprecate one with ${code(`/retract api ${service} <METHOD> <path-pattern> --sunset <date>`)}.`,
    };
  }
  const lines = [`*Deprecated endpoints of ${service}* (${entries.length}):`];
  for (const entry of entries) lines.push(...entryLines(entry, now));
  lines.push(
    `Undo one with ${code(`/retract api ${service} undo <METHOD> <path-pattern>`)}; see its callers with \`/retract api ${service} usage\`.`,
  );
  return { text: fit(lines) };
}

function clientLine(client: ClientUsage): string {
  const first = client.firstSeen ? `, first seen ${client.firstSeen}` : '';
  const seen = client.lastSeen ? `, last seen ${slackDate(Date.parse(client.lastSeen))}` : '';
  const share = `${Math.round(client.share * 1000) / 10} %`;
  return `    • ${code(client.client)} — ${client.count} request${client.count === 1 ? '' : 's'} (${share})${first}${seen} · ${describeTrend(client.trend)}`;
}

/** `/retract api <service> usage`: who still calls each deprecated endpoint, so the team can contact them. */
export function usageMessage(
  service: string,
  entries: readonly DeprecationEntry[],
  usage: readonly EntryUsage[],
  now: Date,
  days = USAGE_DAYS,
): SlackMessage {
  if (entries.length === 0) {
    return { text: `${service} has no deprecated endpoints, so there is no usage to report.` };
  }
  const byId = new Map(entries.map((entry) => [entry.id, entry]));
  const lines = [
    `*Who still calls the deprecated endpoints of ${service}* (last ${days} days, counted by the services' middleware):`,
  ];
  let footnotes = false;
  for (const item of usage) {
    const entry = byId.get(item.id);
    const state = entry ? entryState(entry, now) : 'no longer in the registry';
    if (item.total === 0) {
      lines.push(`*${code(item.id)}* — no calls seen in the last ${days} days · ${state}`);
      continue;
    }
    lines.push(
      `*${code(item.id)}* — ${item.total} request${item.total === 1 ? '' : 's'} from ${item.clients.length} client${item.clients.length === 1 ? '' : 's'} · ${describeTrend(item.trend)} · ${state}`,
    );
    for (const client of item.clients.slice(0, MAX_CLIENTS_SHOWN)) lines.push(clientLine(client));
    const rest = item.clients.slice(MAX_CLIENTS_SHOWN);
    if (rest.length) {
      lines.push(
        `    • …and ${plural(rest.length, 'more client')}, ${plural(
          rest.reduce((sum, c) => sum + c.count, 0),
          'request',
        )}`,
      );
    }
    if (item.clients.some((c) => c.client === OVERFLOW_CLIENT || c.client === ANONYMOUS_CLIENT))
      footnotes = true;
  }
  if (footnotes) {
    lines.push(
      `_\`${ANONYMOUS_CLIENT}\`: requests that carried no client id. \`${OVERFLOW_CLIENT}\`: clients beyond the per-day cap of distinct clients._`,
    );
  }
  return { text: fit(lines) };
}

/** Joins lines within Slack's text limit, saying when some did not fit. */
function fit(lines: string[]): string {
  const out: string[] = [];
  let length = 0;
  for (const [index, line] of lines.entries()) {
    const note = `\n…and ${plural(lines.length - index, 'more line')} not shown (Slack's message limit).`;
    if (length + line.length + 1 + note.length > LIMITS.text) {
      out.push(note.trim());
      break;
    }
    out.push(line);
    length += line.length + 1;
  }
  return truncate(out.join('\n'), LIMITS.text);
}
