import { formatDuration } from '../config/duration.js';
import { esc, truncate } from '../slack/cards.js';
import type { SlackMessage } from '../slack/notifier.js';
import { slackDate } from '../text/time.js';
import { STAGES, stageWords, type Timeline } from './timeline.js';

/** The timeline as a thread reply: each event with its time (in the reader's zone) and the stage durations. */
export function timelineReply(t: Timeline): SlackMessage {
  const lines = [':clipboard: *Timeline* (from backout’s audit log)'];
  for (const e of t.entries.slice(-40)) {
    lines.push(`• ${slackDate(e.at, { seconds: true })} — ${esc(e.what)}${e.who ? ` by <@${e.who}>` : ''}`);
  }
  const stages = STAGES.filter((s) => t.stages[s] !== undefined).map(
    (s) => `${stageWords(s)} *${formatDuration(Math.round(t.stages[s]! * 1000))}*`,
  );
  if (stages.length) lines.push(`*Time to mitigate:* ${stages.join('  ·  ')}`);
  return { text: truncate(lines.join('\n'), 3_900, '\n…') };
}
