/**
 * Path patterns for deprecation entries: literal segments, `:param` segments and a trailing `*`.
 * Matching works on segments, ignoring empty ones, so `/v1/orders/`, `/v1//orders` and `/v1/orders`
 * are the same path; `*` matches zero or more remaining segments, so `/v1/*` also covers `/v1`.
 * Segments are compared as sent (no percent-decoding), case-sensitively.
 */
export type Segment = { kind: 'literal'; text: string } | { kind: 'param' } | { kind: 'wildcard' };

const LITERAL = /^[A-Za-z0-9\-._~!$&'()+,;=@%][A-Za-z0-9\-._~!$&'()+,;=@%:]*$/;
const PARAM = /^:[A-Za-z_][A-Za-z0-9_]*$/;

/** Why `pattern` is not a valid path pattern, or undefined when it is. */
export function patternProblem(pattern: string): string | undefined {
  if (!pattern.startsWith('/')) return 'must start with "/"';
  if (pattern.length > 512) return 'is longer than 512 characters';
  const parts = pattern.split('/').filter((part) => part !== '');
  for (const [index, part] of parts.entries()) {
    if (part === '*') {
      if (index !== parts.length - 1) return '"*" is only allowed as the last segment';
    } else if (part.startsWith(':')) {
      if (!PARAM.test(part)) return `"${part}" is not a valid :param segment`;
    } else if (!LITERAL.test(part)) {
      return `segment "${part}" has characters a path pattern does not allow`;
    }
  }
  return undefined;
}

export function compilePattern(pattern: string): Segment[] {
  return pattern
    .split('/')
    .filter((part) => part !== '')
    .map((part): Segment => {
      if (part === '*') return { kind: 'wildcard' };
      if (part.startsWith(':')) return { kind: 'param' };
      return { kind: 'literal', text: part };
    });
}

/** The path's segments, without query string or fragment. */
export function pathSegments(url: string): string[] {
  const end = url.search(/[?#]/);
  const path = end === -1 ? url : url.slice(0, end);
  return path.split('/').filter((part) => part !== '');
}

export function matchSegments(pattern: readonly Segment[], path: readonly string[]): boolean {
  for (const [index, segment] of pattern.entries()) {
    if (segment.kind === 'wildcard') return true;
    const part = path[index];
    if (part === undefined) return false;
    if (segment.kind === 'literal' && segment.text !== part) return false;
  }
  return pattern.length === path.length;
}

const RANK = { literal: 3, param: 2, wildcard: 1 } as const;

/**
 * Router-style precedence: compared position by position, a literal beats a param beats a wildcard
 * beats the end of the pattern. Negative when `a` is more specific.
 */
export function compareSpecificity(a: readonly Segment[], b: readonly Segment[]): number {
  const length = Math.max(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const segmentA = a[index];
    const segmentB = b[index];
    const rankA = segmentA ? RANK[segmentA.kind] : 0;
    const rankB = segmentB ? RANK[segmentB.kind] : 0;
    if (rankA !== rankB) return rankB - rankA;
  }
  return 0;
}
