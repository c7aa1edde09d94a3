import type { DeprecationEntry } from './entry.js';

export type DeprecationHeaders = Record<string, string>;

/**
 * The deprecation signals for one entry:
 * - `Deprecation: @<unix seconds>` — RFC 9745, a structured-field Date (RFC 9651 §3.3.7);
 * - `Sunset: <IMF-fixdate>` — RFC 8594, an HTTP-date as RFC 9110 §5.6.7 prefers it;
 * - `Link` — RFC 8288, the successor (`successor-version`, RFC 5829) and the policy page
 *   (`deprecation`, RFC 9745 §3), joined into one field value; absent when neither is set.
 */
export function deprecationHeaders(
  entry: Pick<DeprecationEntry, 'deprecatedAt' | 'sunset' | 'successor' | 'policy'>,
): DeprecationHeaders {
  const headers: DeprecationHeaders = {
    Deprecation: `@${Math.floor(Date.parse(entry.deprecatedAt) / 1000)}`,
    Sunset: new Date(entry.sunset).toUTCString(),
  };
  const links: string[] = [];
  // URL#href percent-encodes '<', '>', '"' and whitespace, so the target cannot break out of <…>.
  if (entry.successor) links.push(`<${new URL(entry.successor).href}>; rel="successor-version"`);
  if (entry.policy) links.push(`<${new URL(entry.policy).href}>; rel="deprecation"; type="text/html"`);
  if (links.length > 0) headers.Link = links.join(', ');
  return headers;
}
