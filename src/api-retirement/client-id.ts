import { createHash } from 'node:crypto';
import type { RequestFacts } from './match.js';

/**
 * Who is calling, for usage evidence: a header's value, a hash of an API key (never the key), the
 * source address, or a function. Anything missing is `anonymous`.
 */
export type ClientIdOption =
  { header: string } | { apiKeyHeader: string } | 'source' | ((facts: RequestFacts) => string | undefined);

export const ANONYMOUS_CLIENT = 'anonymous';
const MAX_LENGTH = 128;

export function clientIdResolver(option: ClientIdOption = 'source'): (facts: RequestFacts) => string {
  const resolve = ((): ((facts: RequestFacts) => string | undefined) => {
    if (typeof option === 'function') return option;
    if (option === 'source')
      return (facts) => facts.remoteAddress?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
    if ('header' in option) {
      const name = option.header.toLowerCase();
      return (facts) => first(facts.headers[name]);
    }
    const name = option.apiKeyHeader.toLowerCase();
    return (facts) => {
      const key = first(facts.headers[name]);
      return key && `key:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
    };
  })();
  return (facts) => {
    // Clipped so a hostile header cannot grow the usage hashes.
    const id = resolve(facts)?.trim().slice(0, MAX_LENGTH);
    return id ? id : ANONYMOUS_CLIENT;
  };
}

function first(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text?.trim() || undefined;
}
