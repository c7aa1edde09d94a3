import { UsageError } from '../errors.js';

/**
 * Splits slash-command text as Slack sends it into tokens. Slack escapes `&`, `<`, `>`
 * as entities and wraps mentions and links in angle brackets (`<@U123|name>`,
 * `<#C123|name>`, `<!subteam^S123|@group>`, `<https://x|label>`); mobile keyboards turn
 * quotes into smart quotes and `--` into dashes. All of that is handled here, once.
 */
export type Token =
  | { kind: 'word'; value: string; quoted: boolean }
  | { kind: 'user'; value: string; label?: string }
  | { kind: 'channel'; value: string; label?: string }
  | { kind: 'usergroup'; value: string; label?: string }
  | { kind: 'link'; value: string; label?: string };

export const MAX_COMMAND_LENGTH = 2000;

const OPEN_QUOTES: Record<string, string> = {
  '"': '"',
  "'": "'",
  '\u201c': '\u201d', // “ … ”
  '\u201d': '\u201d', // some keyboards use ” on both sides
  '\u201e': '\u201c', // „ … “
  '\u2018': '\u2019', // ‘ … ’
  '\u00ab': '\u00bb', // « … »
};
/** Every quote that may close a token opened by the key. */
const CLOSERS: Record<string, string[]> = {
  '"': ['"', '\u201d', '\u201c'],
  "'": ["'", '\u2019'],
  '\u201d': ['\u201d', '"', '\u201c'],
  '\u201c': ['\u201c', '\u201d', '"'],
  '\u2019': ['\u2019', "'"],
  '\u00bb': ['\u00bb'],
};

const WHITESPACE = /[\s\u00a0\u2000-\u200b\u202f\u205f\u3000]/;

export function unescapeSlack(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Normalises what autocorrect does to flags: `—env`, `–env`, `−env` → `--env`. */
function normaliseDashes(word: string): string {
  return word.replace(/^[\u2014\u2013\u2212](?=[a-z])/i, '--').replace(/^-[\u2014\u2013](?=[a-z])/i, '--');
}

function entityToken(inner: string): Token {
  const [target = '', label] = inner.split('|', 2);
  const withLabel = <T extends Token>(t: T): T =>
    label !== undefined ? { ...t, label: unescapeSlack(label) } : t;
  if (target.startsWith('@')) return withLabel({ kind: 'user', value: target.slice(1) });
  if (target.startsWith('#')) return withLabel({ kind: 'channel', value: target.slice(1) });
  if (target.startsWith('!subteam^'))
    return withLabel({ kind: 'usergroup', value: target.slice('!subteam^'.length) });
  if (target.startsWith('!')) return { kind: 'word', value: `@${label ?? target.slice(1)}`, quoted: false };
  return withLabel({ kind: 'link', value: unescapeSlack(target) });
}

export function tokenize(text: string): Token[] {
  if (text.length > MAX_COMMAND_LENGTH) {
    throw new UsageError(
      `That command is ${text.length} characters long; the limit is ${MAX_COMMAND_LENGTH}.`,
    );
  }
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (WHITESPACE.test(ch)) {
      i++;
      continue;
    }
    if (ch === '<') {
      const end = text.indexOf('>', i + 1);
      if (end === -1) {
        throw new UsageError(`There is a "<" at position ${i + 1} with no closing ">".`);
      }
      tokens.push(entityToken(text.slice(i + 1, end)));
      i = end + 1;
      continue;
    }
    // A word, possibly quoted as a whole or after `--flag=`.
    let value = '';
    let quoted = false;
    while (i < text.length && !WHITESPACE.test(text[i]!)) {
      const c = text[i]!;
      const atQuoteStart = value === '' || /^[-\u2014\u2013]{1,2}[\w-]+=$/.test(value);
      if (atQuoteStart && c in OPEN_QUOTES) {
        const closers = CLOSERS[OPEN_QUOTES[c]!] ?? [OPEN_QUOTES[c]!];
        let j = i + 1;
        while (j < text.length && !closers.includes(text[j]!)) j++;
        if (j >= text.length) {
          const excerpt = text.slice(i, i + 24);
          throw new UsageError(
            `The quote at position ${i + 1} (${excerpt}${text.length > i + 24 ? '…' : ''}) is never closed.`,
            { hint: 'Close it with a matching quote, e.g. --reason "bad deploy".' },
          );
        }
        value += text.slice(i + 1, j);
        quoted = true;
        i = j + 1;
        continue;
      }
      if (c === '<') break;
      value += c;
      i++;
    }
    tokens.push({ kind: 'word', value: unescapeSlack(quoted ? value : normaliseDashes(value)), quoted });
  }
  return tokens;
}

/** Text of a token as the user meant it (mentions as `<@U…>` so Slack renders them back). */
export function tokenText(token: Token): string {
  switch (token.kind) {
    case 'word':
      return token.value;
    case 'user':
      return `<@${token.value}>`;
    case 'channel':
      return `<#${token.value}>`;
    case 'usergroup':
      return `<!subteam^${token.value}>`;
    case 'link':
      return token.value;
  }
}
