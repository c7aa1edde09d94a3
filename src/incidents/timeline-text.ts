import { formatDuration } from '../config/duration.js';
import { escKeepingMentions, truncate } from '../slack/cards.js';
import type { SlackMessage } from '../slack/notifier.js';
import { slackDate } from '../text/time.js';
import { STAGES, stageWords, whose, type Timeline, type TimelineEntry } from './timeline.js';

/** Entries a thread reply shows at most, the first HEAD of them from the start. */
const SHOWN = 40;
const HEAD = 10;

/** The timeline as a thread reply: each event with its time (in the reader's zone) and the stage durations. */
export function timelineReply(t: Timeline): SlackMessage {
  const others = t.requestIds.length - 1;
  const lines = [
    `:clipboard: *Timeline*${others > 0 ? ` of ${t.requestIds[0]} and the ${others} request${others === 1 ? '' : 's'} it filed` : ''} (from backout’s audit log)`,
  ];
  const line = (e: TimelineEntry) =>
    `• ${slackDate(e.at, { seconds: true })} — ${escKeepingMentions(`${whose(t, e)}${e.what}`, t.people)}${e.who ? ` by <@${e.who}>` : ''}`;
  // A long one keeps how it began (alert, proposal, approval) and how it ended.
  if (t.entries.length > SHOWN) {
    lines.push(...t.entries.slice(0, HEAD).map(line));
    lines.push(
      `• … ${t.entries.length - SHOWN} more (\`backout timeline ${t.requestIds[0] ?? ''}\` prints them)`,
    );
    lines.push(...t.entries.slice(HEAD - SHOWN).map(line));
  } else lines.push(...t.entries.map(line));
  if (t.partial)
    lines.push(
      `_More happened than the thread shows: \`backout timeline ${t.requestIds[0] ?? ''}\` prints all of it._`,
    );
  const stages = STAGES.filter((s) => t.stages[s] !== undefined).map(
    (s) => `${stageWords(s)} *${formatDuration(Math.round(t.stages[s]! * 1000))}*`,
  );
  if (stages.length) lines.push(`*Time to mitigate:* ${stages.join('  ·  ')}`);
  return { text: truncate(lines.join('\n'), 3_900, '\n…') };
}
