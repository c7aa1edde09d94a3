import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { parseArgs } from '../../src/text/args.js';
import { tokenize, tokenText, type Token } from '../../src/text/tokenize.js';

const words = (tokens: Token[]) => tokens.map(tokenText);

describe('the command-text tokenizer', () => {
  it.each([
    ['checkout-api --reason "bad deploy"', ['checkout-api', '--reason', 'bad deploy']],
    ['checkout-api --reason “bad deploy”', ['checkout-api', '--reason', 'bad deploy']],
    ['checkout-api --reason ‘bad deploy’', ['checkout-api', '--reason', 'bad deploy']],
    ['checkout-api --reason "it\'s broken"', ['checkout-api', '--reason', "it's broken"]],
    ['checkout-api --reason="bad deploy"', ['checkout-api', '--reason=bad deploy']],
    ['checkout-api --reason=“bad deploy”', ['checkout-api', '--reason=bad deploy']],
    ['checkout-api —env staging', ['checkout-api', '--env', 'staging']],
    ['checkout-api –to 3', ['checkout-api', '--to', '3']],
    ['checkout-api --reason "a &amp; b &lt;c&gt;"', ['checkout-api', '--reason', 'a & b <c>']],
    ['checkout-api\u00a0--to\u00a03', ['checkout-api', '--to', '3']],
    ['  checkout-api   history  ', ['checkout-api', 'history']],
    ['checkout-api --reason don’t', ['checkout-api', '--reason', 'don’t']],
  ])('%s', (text, expected) => {
    expect(words(tokenize(text))).toEqual(expected);
  });

  it('turns Slack mentions, channel links, user groups and links into typed tokens', () => {
    const tokens = tokenize(
      '<@U0ABC123|alice> <#C0INCIDENT|incidents> <!subteam^S0ONCALL|@oncall> <https://example.com/x?a=1&amp;b=2|docs>',
    );
    expect(tokens).toEqual([
      { kind: 'user', value: 'U0ABC123', label: 'alice' },
      { kind: 'channel', value: 'C0INCIDENT', label: 'incidents' },
      { kind: 'usergroup', value: 'S0ONCALL', label: '@oncall' },
      { kind: 'link', value: 'https://example.com/x?a=1&b=2', label: 'docs' },
    ]);
  });

  it('rejects an unterminated quote with its position', () => {
    expect(() => tokenize('checkout-api --reason "bad deploy')).toThrow(/quote at position 23/);
  });

  it('rejects an unclosed "<" with its position', () => {
    expect(() => tokenize('checkout-api <@U0ABC')).toThrow(/position 14/);
  });

  it('refuses text longer than the limit', () => {
    expect(() => tokenize('x'.repeat(2001))).toThrow(/limit is 2000/);
  });

  it('never throws anything but a UsageError, whatever the text (fuzzed)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        try {
          const tokens = tokenize(text);
          for (const t of tokens) expect(typeof t.value).toBe('string');
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trips any list of plain words joined by spaces (fuzzed)', () => {
    const word = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._@/:-]{0,20}$/);
    fc.assert(
      fc.property(fc.array(word, { maxLength: 12 }), (ws) => {
        expect(words(tokenize(ws.join(' ')))).toEqual(ws);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps any quoted text whole, with straight or smart quotes (fuzzed)', () => {
    const inner = fc.string({ maxLength: 40 }).filter((s) => !/["“”'‘’<>&]/.test(s));
    const quotes = fc.constantFrom(['"', '"'], ['“', '”'], ['‘', '’'], ["'", "'"]);
    fc.assert(
      fc.property(inner, quotes, (text, [open, close]) => {
        const tokens = tokenize(`svc --reason ${open}${text}${close}`);
        expect(tokens[2]).toEqual({ kind: 'word', value: text, quoted: true });
      }),
      { numRuns: 2000 },
    );
  });
});

describe('flag parsing', () => {
  const spec = { env: 'string', to: 'string', reason: 'string', rollback: 'boolean' } as const;

  it('accepts --flag value, --flag=value and boolean flags', () => {
    const { positionals, flags } = parseArgs(
      tokenize('svc --env=staging --to 3 --rollback --reason "x y"'),
      spec,
      'usage',
    );
    expect(words(positionals)).toEqual(['svc']);
    expect(Object.fromEntries(flags)).toEqual({ env: 'staging', to: '3', rollback: true, reason: 'x y' });
  });

  it.each([
    ['svc --evn prod', /Unknown option --evn\. Did you mean --env\?/],
    ['svc --env', /--env needs a value/],
    ['svc --env --to 3', /--env needs a value/],
    ['svc --env a --env b', /--env is given twice/],
    ['svc --rollback=yes', /--rollback takes no value/],
    ['svc -e prod', /options start with two dashes/],
  ])('%s is refused precisely', (text, message) => {
    expect(() => parseArgs(tokenize(text), spec, 'usage')).toThrow(message);
  });
});
