import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, PROBLEM_TYPES } from '../../src/api-retirement/decide.js';
import { parseLinkHeader } from './http-parse.js';
import { makeEntry } from './fixtures.js';

const at = (iso: string) => new Date(iso);
const always = (value: number) => () => value;

describe('decide', () => {
  const entry = makeEntry({
    brownouts: [
      { start: '2026-02-01T10:00:00.000Z', end: '2026-02-01T11:00:00.000Z', share: 0.25, status: 410 },
      { start: '2026-02-02T10:00:00.000Z', end: '2026-02-02T10:30:00.000Z', share: 1, status: 503 },
    ],
  });

  it('passes with the deprecation headers and no delay outside windows, whatever the draw', () => {
    for (const instant of ['2025-12-31T00:00:00Z', '2026-02-01T09:59:59.999Z', '2026-02-01T11:00:00Z']) {
      const decision = decide(entry, at(instant), always(0));
      expect(decision).toEqual({
        action: 'pass',
        delayMs: 0,
        headers: {
          Deprecation: '@1767225600',
          Sunset: 'Sun, 01 Mar 2026 00:00:00 GMT',
          Link:
            '<https://api.example.com/v2/orders>; rel="successor-version", ' +
            '<https://developer.example.com/deprecations/orders-v1>; rel="deprecation"; type="text/html"',
        },
      });
    }
  });

  it('refuses inside a window exactly when the draw is below the share', () => {
    expect(decide(entry, at('2026-02-01T10:00:00Z'), always(0.2499)).action).toBe('refuse');
    expect(decide(entry, at('2026-02-01T10:59:59Z'), always(0)).action).toBe('refuse');
    expect(decide(entry, at('2026-02-01T10:30:00Z'), always(0.25)).action).toBe('pass');
    expect(decide(entry, at('2026-02-01T10:30:00Z'), always(0.99)).action).toBe('pass');
  });

  it('answers a brownout refusal with problem details naming the successor and the sunset', () => {
    const decision = decide(entry, at('2026-02-01T10:15:00Z'), always(0));
    if (decision.action !== 'refuse') throw new Error('expected a refusal');
    expect(decision.status).toBe(410);
    expect(decision.headers['Content-Type']).toBe('application/problem+json');
    expect(decision.headers['Cache-Control']).toBe('no-store');
    expect(decision.headers.Deprecation).toBe('@1767225600');
    expect(decision.headers).not.toHaveProperty('Retry-After');
    expect(decision.body).toEqual({
      type: PROBLEM_TYPES.brownout,
      title: 'Endpoint refused during a scheduled brownout',
      status: 410,
      detail:
        'GET /v1/orders/:id is deprecated and will be retired on Sun, 01 Mar 2026 00:00:00 GMT; this request ' +
        'was refused during a scheduled brownout that ends Sun, 01 Feb 2026 11:00:00 GMT. ' +
        'Use https://api.example.com/v2/orders instead.',
      successor: 'https://api.example.com/v2/orders',
      sunset: '2026-03-01T00:00:00.000Z',
    });
  });

  it('sends Retry-After until the end of a 503 window', () => {
    const decision = decide(entry, at('2026-02-02T10:10:00.500Z'), always(0.5));
    if (decision.action !== 'refuse') throw new Error('expected a refusal');
    expect(decision.status).toBe(503);
    expect(decision.headers['Retry-After']).toBe('1200');
  });

  it('answers 410 Gone with the successor link from the sunset on, even with no draw and no window', () => {
    const plain = makeEntry({ delay: { maxMs: 2000 } });
    for (const instant of ['2026-03-01T00:00:00Z', '2027-01-01T00:00:00Z']) {
      const decision = decide(plain, at(instant), always(0.999));
      if (decision.action !== 'refuse') throw new Error('expected a refusal');
      expect(decision.status).toBe(410);
      expect(decision.body.type).toBe(PROBLEM_TYPES.sunset);
      expect(decision.body.detail).toBe(
        'GET /v1/orders/:id was retired on Sun, 01 Mar 2026 00:00:00 GMT. Use https://api.example.com/v2/orders instead.',
      );
      expect(parseLinkHeader(decision.headers.Link)[0]).toEqual({
        target: 'https://api.example.com/v2/orders',
        params: { rel: 'successor-version' },
      });
    }
    const orphan = decide(
      makeEntry({ successor: undefined, policy: undefined }),
      at('2026-03-02T00:00:00Z'),
      Math.random,
    );
    if (orphan.action !== 'refuse') throw new Error('expected a refusal');
    expect(orphan.body).not.toHaveProperty('successor');
    expect(orphan.body.detail).toContain('It has no successor.');
  });

  describe('delay ramp: min(maxMs, maxMs * (now - from) / (sunset - from)), 0 before from', () => {
    // 2026-01-01 → 2026-03-01 is 59 days.
    const ramp = makeEntry({ delay: { maxMs: 5900 } });
    const dayMs = 86_400_000;
    const from = Date.parse('2026-01-01T00:00:00Z');

    it.each<[string, number]>([
      ['2025-12-31T23:59:59.999Z', 0],
      ['2026-01-01T00:00:00Z', 0],
      ['2026-01-02T00:00:00Z', 100],
      ['2026-01-30T12:00:00Z', 2950],
      ['2026-02-28T00:00:00Z', 5800],
      ['2026-02-28T23:59:59.999Z', 5900],
    ])('at %s the delay is %i ms', (instant, expected) => {
      const decision = decide(ramp, at(instant), always(0));
      expect(decision).toMatchObject({ action: 'pass', delayMs: expected });
    });

    it('starts at delay.from when set', () => {
      const late = makeEntry({ delay: { from: '2026-02-01T00:00:00Z', maxMs: 2800 } }); // 28 days to the sunset
      expect(decide(late, at('2026-01-15T00:00:00Z'), always(0))).toMatchObject({ delayMs: 0 });
      expect(decide(late, at('2026-02-08T00:00:00Z'), always(0))).toMatchObject({ delayMs: 700 });
      expect(decide(late, at('2026-02-15T00:00:00Z'), always(0))).toMatchObject({ delayMs: 1400 });
    });

    it('never exceeds the cap and follows the formula at every instant before the sunset', () => {
      const sunset = Date.parse(ramp.sunset);
      fc.assert(
        fc.property(fc.integer({ min: from - 10 * dayMs, max: sunset - 1 }), (instant) => {
          const decision = decide(ramp, new Date(instant), always(0.5));
          if (decision.action !== 'pass') throw new Error('expected a pass');
          const expected =
            instant < from ? 0 : Math.round(Math.min(5900, (5900 * (instant - from)) / (sunset - from)));
          expect(decision.delayMs).toBe(expected);
          expect(decision.delayMs).toBeLessThanOrEqual(5900);
        }),
      );
    });
  });
});
