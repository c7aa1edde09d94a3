import { createHash } from 'node:crypto';

/**
 * The RETRACTED banner backout puts on top of a release's notes. Its first line is an HTML
 * comment (invisible on github.com) naming the request that wrote it, so "is this release
 * retracted?", "did this job already write its banner?" and "skip retracted releases when
 * picking a replacement" are exact checks rather than guesses about the text.
 */
const START = /^<!-- backout:retracted request=([a-z]{2}-[a-z0-9]{8}) -->/;
const END = '<!-- /backout:retracted -->';

export interface BannerInput {
  requestId: string;
  at: Date;
  /** Slack user ids: the banner names them by id only when their Slack names could not be read. */
  requester: string;
  approver?: string;
  /** Slack display names, read once before the banner is written (GitHub has no idea who U0… is). */
  requesterName?: string;
  approverName?: string;
  reason?: string;
  replacement?: { tag: string; url: string };
}

/** Text from Slack made safe for a GitHub blockquote: one line, no HTML, no @-mentions of GitHub users. */
function inline(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/</g, '&lt;')
    .replace(/@(?=\w)/g, '@\u2060');
}

function stamp(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A person by their Slack name, or by id when the name could not be read. */
function person(id: string, name: string | undefined): string {
  const shown = name ? inline(name) : '';
  return shown ? shown : `Slack user ${id}`;
}

export function retractionBanner(b: BannerInput): string {
  const approval = b.approver
    ? `, approved by ${person(b.approver, b.approverName)}`
    : ' (no approval was required)';
  const lines = [
    `<!-- backout:retracted request=${b.requestId} -->`,
    '> [!WARNING]',
    `> **RETRACTED** on ${stamp(b.at)} by ${person(b.requester, b.requesterName)}${approval}.`,
  ];
  if (b.reason) lines.push(`> Reason: ${inline(b.reason)}`);
  lines.push(
    b.replacement
      ? `> Use [${inline(b.replacement.tag)}](${b.replacement.url}) instead.`
      : '> There is no replacement release yet.',
  );
  lines.push(END);
  return lines.join('\n');
}

/** The notes with the banner on top (the original notes follow unchanged). */
export function withBanner(banner: string, body: string | null): string {
  return body ? `${banner}\n\n${body}` : banner;
}

/** The request that retracted this release, when its notes carry backout's banner. */
export function retractedBy(body: string | null | undefined): string | undefined {
  return body ? START.exec(body)?.[1] : undefined;
}

export function isRetracted(body: string | null | undefined): boolean {
  return retractedBy(body) !== undefined;
}

/** The notes without backout's banner (as they were under it), when the banner is intact. */
export function withoutBanner(body: string | null | undefined): string | undefined {
  if (!body || !START.test(body)) return undefined;
  const end = body.indexOf(END);
  if (end < 0) return undefined;
  return body.slice(end + END.length).replace(/^\n\n/, '');
}

/** SHA-256 of the notes: what a plan records to notice edits without keeping the text. */
export function notesDigest(body: string | null | undefined): string {
  return createHash('sha256')
    .update(body ?? '')
    .digest('hex');
}
