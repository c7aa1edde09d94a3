/**
 * Times people read in Slack. Slack text carries a date token that each reader's client renders
 * in their own time zone; where a token cannot go (plain_text fields, headers, button labels,
 * modal titles, or anything that is not mrkdwn) the plain UTC form is used. Audit records and
 * logs keep ISO 8601: those are for machines.
 */

/** `2026-12-06 03:18 UTC` (`03:18:25 UTC` with `seconds`): a time anyone can read, without milliseconds. */
export function utcText(at: number | Date, opts: { seconds?: boolean } = {}): string {
  const iso = new Date(at).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, opts.seconds ? 19 : 16)} UTC`;
}

/**
 * `<!date^1796527105^{date_short_pretty} {time}|2026-12-06 03:18 UTC>`: Slack shows the date
 * ("Today", "Dec 6, 2026") and time in the reader's own time zone, and the UTC form wherever
 * it cannot render the token. For mrkdwn only.
 */
export function slackDate(at: number | Date, opts: { seconds?: boolean } = {}): string {
  const ms = new Date(at).getTime();
  const format = opts.seconds ? '{date_short_pretty} {time_secs}' : '{date_short_pretty} {time}';
  return `<!date^${Math.floor(ms / 1000)}^${format}|${utcText(ms, opts)}>`;
}
