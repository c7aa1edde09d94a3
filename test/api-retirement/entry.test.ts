import { describe, expect, it } from 'vitest';
import { buildEntry, deprecationEntrySchema, entryId } from '../../src/api-retirement/entry.js';
import { makeEntry } from './fixtures.js';

const base = {
  service: 'checkout',
  method: 'get',
  pattern: '/v1/orders/:id',
  deprecatedAt: new Date('2026-01-01T00:00:00Z'),
  sunset: '2026-03-01T00:00:00+01:00',
  createdBy: 'U123',
  requestId: 'req-1',
  createdAt: new Date('2025-12-20T00:00:00Z'),
};

describe('buildEntry', () => {
  it('normalises method, dates and id', () => {
    const result = buildEntry(base);
    expect(result).toEqual({
      ok: true,
      entry: {
        id: 'GET /v1/orders/:id',
        service: 'checkout',
        method: 'GET',
        pattern: '/v1/orders/:id',
        deprecatedAt: '2026-01-01T00:00:00.000Z',
        sunset: '2026-02-28T23:00:00.000Z',
        brownouts: [],
        createdBy: 'U123',
        requestId: 'req-1',
        createdAt: '2025-12-20T00:00:00.000Z',
      },
    });
  });

  it('gives version-header entries their own id', () => {
    const entry = makeEntry({
      method: '*',
      pattern: undefined,
      versionHeader: { name: 'Api-Version', value: '1' },
    });
    expect(entry.id).toBe('* /* [api-version=1]');
    expect(entry.versionHeader).toEqual({ name: 'api-version', value: '1' });
    expect(
      entryId({ method: 'POST', pattern: '/v1/*', versionHeader: { name: 'api-version', value: '1' } }),
    ).toBe('POST /v1/* [api-version=1]');
  });

  it.each(['https://x/v2', 'http://orders-v2:8080/api', 'https://10.0.0.7/v2', 'https://[fd00::1]/v2'])(
    'accepts the successor %s (single-label hosts and addresses are valid)',
    (successor) => {
      const result = buildEntry({ ...base, sunset: '2026-03-01T00:00:00Z', successor });
      expect(result.ok && result.entry.successor).toBe(successor);
    },
  );

  it.each<[string, Partial<Parameters<typeof buildEntry>[0]>, string]>([
    ['no pattern nor header', { pattern: undefined }, 'needs a path pattern, a version header, or both'],
    ['a relative pattern', { pattern: 'v1/orders' }, 'must start with "/"'],
    ['a wildcard in the middle', { pattern: '/v1/*/items' }, 'only allowed as the last segment'],
    ['a bad param', { pattern: '/v1/:1d' }, 'not a valid :param segment'],
    ['a lower-case-only method mangled', { method: 'GET /x' }, 'upper-case HTTP method'],
    [
      'a sunset before deprecation',
      { sunset: '2025-12-01T00:00:00Z' },
      'deprecation date is after the sunset',
    ],
    ['a non-http successor', { successor: 'ftp://example.com/v2' }, 'successor'],
    ['a relative successor', { successor: '/v2/orders' }, 'an absolute http:// or https:// URL'],
    ['a successor that breaks out of Link', { successor: 'https://x/v2>; rel=evil' }, 'successor'],
    ['an invalid date', { sunset: 'next spring' }, 'sunset'],
    ['a huge delay', { delay: { maxMs: 60_000 } }, 'delay'],
    [
      'a delay starting at the sunset',
      { delay: { from: '2026-03-01T00:00:00Z', maxMs: 100 } },
      'delay must start before',
    ],
    [
      'overlapping windows',
      {
        brownouts: [
          { start: '2026-02-01T10:00:00.000Z', end: '2026-02-01T11:00:00.000Z', share: 0.25, status: 410 },
          { start: '2026-02-01T10:30:00.000Z', end: '2026-02-01T11:30:00.000Z', share: 0.25, status: 410 },
        ],
      },
      'brownout windows overlap',
    ],
    [
      'a window after the sunset',
      {
        brownouts: [
          { start: '2026-02-28T23:30:00.000Z', end: '2026-03-01T00:30:00.000Z', share: 0.5, status: 503 },
        ],
      },
      'ends after the sunset',
    ],
  ])('rejects %s', (_, overrides, message) => {
    const result = buildEntry({ ...base, sunset: '2026-03-01T00:00:00Z', ...overrides });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(message);
  });

  it('rejects a stored entry whose id does not match its fields', () => {
    const entry = makeEntry();
    const parsed = deprecationEntrySchema.safeParse({ ...entry, id: 'GET /v1/other' });
    expect(parsed.success).toBe(false);
  });
});
