import { UsageError } from '../errors.js';
import { closest } from './suggest.js';
import { tokenText, type Token } from './tokenize.js';

export type FlagSpec = Record<string, 'string' | 'boolean'>;

export interface ParsedArgs {
  positionals: Token[];
  flags: Map<string, string | true>;
}

/**
 * Separates `--flag value`, `--flag=value` and boolean `--flag` from positionals.
 * Unknown, repeated or value-less flags are usage errors that name the flag.
 */
export function parseArgs(tokens: Token[], spec: FlagSpec, usage: string): ParsedArgs {
  const positionals: Token[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (tok.kind !== 'word' || tok.quoted || !tok.value.startsWith('--')) {
      if (tok.kind === 'word' && !tok.quoted && /^-[a-z]/i.test(tok.value)) {
        throw new UsageError(`"${tok.value}" is not an option; options start with two dashes.`, {
          hint: usage,
        });
      }
      positionals.push(tok);
      continue;
    }
    const eq = tok.value.indexOf('=');
    const name = (eq === -1 ? tok.value.slice(2) : tok.value.slice(2, eq)).toLowerCase();
    const kind = spec[name];
    if (!kind) {
      const known = Object.keys(spec);
      const guess = closest(name, known);
      throw new UsageError(
        `Unknown option --${name}.${guess ? ` Did you mean --${guess}?` : ''}${known.length ? ` Options: ${known.map((k) => `--${k}`).join(', ')}.` : ''}`,
        { hint: usage },
      );
    }
    if (flags.has(name)) throw new UsageError(`--${name} is given twice.`, { hint: usage });
    if (kind === 'boolean') {
      if (eq !== -1) throw new UsageError(`--${name} takes no value.`, { hint: usage });
      flags.set(name, true);
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) {
      value = tok.value.slice(eq + 1);
    } else {
      const next = tokens[i + 1];
      if (next && !(next.kind === 'word' && !next.quoted && next.value.startsWith('--'))) {
        value = tokenText(next);
        i++;
      }
    }
    if (value === undefined || value.trim() === '') {
      throw new UsageError(`--${name} needs a value.`, { hint: usage });
    }
    flags.set(name, value);
  }
  return { positionals, flags };
}
