import type { DeprecationEntry } from './entry.js';
import { compareSpecificity, compilePattern, matchSegments, pathSegments, type Segment } from './pattern.js';

/** What the middleware knows about a request, whichever server it runs in. */
export interface RequestFacts {
  method: string;
  /** The request target; a query string or fragment is ignored. */
  url: string;
  /** Lower-case names, as Node parses them. */
  headers: Record<string, string | string[] | undefined>;
  remoteAddress?: string | undefined;
}

export type Matcher = (facts: RequestFacts) => DeprecationEntry | undefined;

interface Compiled {
  entry: DeprecationEntry;
  segments: Segment[];
  header: { name: string; value: string } | undefined;
}

/**
 * Compiles a registry into a matcher that returns the most specific matching entry: by path
 * precedence, then an explicit method over `*`, then a version-header entry over a plain one.
 * Method `GET` also covers `HEAD`, which HTTP defines as GET without the body.
 */
export function compileMatcher(entries: readonly DeprecationEntry[]): Matcher {
  const compiled: Compiled[] = entries
    .map((entry) => ({
      entry,
      segments: compilePattern(entry.pattern ?? '/*'),
      header: entry.versionHeader && {
        name: entry.versionHeader.name.toLowerCase(),
        value: entry.versionHeader.value,
      },
    }))
    .sort(
      (a, b) =>
        compareSpecificity(a.segments, b.segments) ||
        Number(a.entry.method === '*') - Number(b.entry.method === '*') ||
        Number(!a.header) - Number(!b.header) ||
        a.entry.id.localeCompare(b.entry.id),
    );
  if (compiled.length === 0) return () => undefined;
  return (facts) => {
    const method = facts.method.toUpperCase();
    let path: string[] | undefined;
    for (const candidate of compiled) {
      const wanted = candidate.entry.method;
      if (wanted !== '*' && wanted !== method && !(wanted === 'GET' && method === 'HEAD')) continue;
      if (candidate.header && headerValue(facts.headers[candidate.header.name]) !== candidate.header.value)
        continue;
      path ??= pathSegments(facts.url);
      if (matchSegments(candidate.segments, path)) return candidate.entry;
    }
    return undefined;
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return (Array.isArray(value) ? value.join(', ') : value)?.trim();
}
