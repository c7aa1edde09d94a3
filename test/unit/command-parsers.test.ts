import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { parse as parseRollback } from '../../commands/rollback.js';
import { parse as parseRetract } from '../../commands/retract-grammar.js';
import { parse as parseCanary } from '../../commands/canary-grammar.js';

const parsers = { rollback: parseRollback, retract: parseRetract, canary: parseCanary };

/** Text shaped like commands: real words, flags, quotes, Slack escapes, mentions and junk. */
const commandish = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'checkout-api',
        'checkout-api@v1.4.2',
        'history',
        'undo',
        'api',
        'usage',
        'list',
        'start',
        'promote',
        'abort',
        'status',
        'GET',
        '/v1/x/*',
        'help',
      ),
      fc.constantFrom(
        '--env',
        '--to',
        '--reason',
        '--replacement',
        '--delete-assets',
        '--rollback',
        '--full',
        '--sunset',
        '--brownout',
        '--env=prod',
        '—env',
        '-e',
      ),
      fc.constantFrom(
        '"bad deploy"',
        '“smart”',
        "'single'",
        '"unterminated',
        '&amp;',
        '&lt;script&gt;',
        '<@U0ABC|bob>',
        '<#C0X|x>',
        '<https://x.io|x>',
        '<',
        '>',
      ),
      fc.string({ maxLength: 12 }),
      fc.integer({ min: -5, max: 99999 }).map(String),
    ),
    { maxLength: 10 },
  )
  .map((parts) => parts.join(' '));

describe('the slash-command parsers never fail with anything but a usage error', () => {
  for (const [name, parse] of Object.entries(parsers)) {
    it(`/${name}: thousands of command-shaped and random inputs give a command or a UsageError with a message`, () => {
      fc.assert(
        fc.property(fc.oneof(commandish, fc.string({ unit: 'binary', maxLength: 200 })), (text) => {
          try {
            const cmd = parse(text);
            expect(cmd).toHaveProperty('kind');
          } catch (err) {
            expect(err).toBeInstanceOf(UsageError);
            expect((err as UsageError).message.length).toBeGreaterThan(10);
          }
        }),
        { numRuns: 4000 },
      );
    });
  }
});

describe('/rollback grammar', () => {
  it.each([
    ['', { kind: 'modal' }],
    ['help', { kind: 'help' }],
    ['checkout-api', { kind: 'rollback', service: 'checkout-api' }],
    ['Checkout-API --env staging', { kind: 'rollback', service: 'checkout-api', env: 'staging' }],
    [
      'checkout-api --to 4 --reason “5xx spike”',
      { kind: 'rollback', service: 'checkout-api', to: 4, reason: '5xx spike' },
    ],
    [
      'checkout-api --env=production history',
      { kind: 'history', service: 'checkout-api', env: 'production' },
    ],
  ])('%j parses', (text, expected) => {
    expect(parseRollback(text)).toEqual(expected);
  });

  it.each([
    ['checkout-api --to abc', /--to takes a revision number/],
    ['checkout-api --to 0', /--to takes a revision number/],
    ['checkout-api bad deploy', /did not understand "bad".*--reason/],
    ['checkout-api history --to 3', /`history` takes only --env/],
    ['checkout_api!', /not a service name/],
  ])('%j is refused: %s', (text, message) => {
    expect(() => parseRollback(text)).toThrow(message);
  });
});

describe('/retract grammar', () => {
  it('parses a full retraction', () => {
    expect(
      parseRetract(
        'checkout-api@v1.4.2 --reason "corrupts carts" --replacement v1.4.1 --delete-assets --rollback',
      ),
    ).toEqual({
      kind: 'retract',
      service: 'checkout-api',
      tag: 'v1.4.2',
      reason: 'corrupts carts',
      replacement: 'v1.4.1',
      deleteAssets: true,
      rollback: true,
    });
  });
  it('parses undo and api forms', () => {
    expect(parseRetract('undo checkout-api@v1.4.2')).toEqual({
      kind: 'undo',
      service: 'checkout-api',
      tag: 'v1.4.2',
    });
    expect(parseRetract('api checkout-api usage')).toEqual({ kind: 'api-usage', service: 'checkout-api' });
    expect(parseRetract('api checkout-api get /v1/checkout/* --sunset 2027-03-01')).toMatchObject({
      kind: 'api-retire',
      method: 'GET',
      pattern: '/v1/checkout/*',
      sunset: '2027-03-01',
    });
  });
  it.each([
    ['checkout-api', /<service>@<tag>/],
    ['checkout-api@v1 --replacement v1', /cannot be the release being retracted/],
    ['api checkout-api FETCH /x --sunset 2027-01-01', /Expected an HTTP method/],
    ['api checkout-api GET /x', /--sunset is required/],
    ['api checkout-api GET /x --sunset 2027-01-01 --successor ftp://x', /http\(s\) URL/],
  ])('%j is refused: %s', (text, message) => {
    expect(() => parseRetract(text)).toThrow(message);
  });
});

describe('/canary grammar', () => {
  it.each([
    ['checkout-api', { kind: 'status', service: 'checkout-api' }],
    [
      'checkout-api start registry.example.com/shop/checkout:1.5.0',
      { kind: 'start', service: 'checkout-api', image: 'registry.example.com/shop/checkout:1.5.0' },
    ],
    ['checkout-api promote --full', { kind: 'promote', service: 'checkout-api', full: true }],
    [
      'checkout-api --env staging abort --reason "p99"',
      { kind: 'abort', service: 'checkout-api', env: 'staging', reason: 'p99' },
    ],
  ])('%j parses', (text, expected) => {
    expect(parseCanary(text)).toEqual(expected);
  });
  it.each([
    ['checkout-api start', /Which image/],
    ['checkout-api start NOT AN IMAGE', /did not understand|not an image/],
    ['checkout-api abort --full', /--full goes with `promote`/],
    ['checkout-api explode', /not a canary action/],
  ])('%j is refused: %s', (text, message) => {
    expect(() => parseCanary(text)).toThrow(message);
  });
});
