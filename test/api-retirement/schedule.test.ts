import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BrownoutWindow } from '../../src/api-retirement/entry.js';
import {
  formatSchedule,
  formatWindow,
  parseBrownoutSchedule,
  parseDuration,
  type ScheduleResult,
} from '../../src/api-retirement/schedule.js';

// Monday 30 Nov 2026, 10:00 UTC; sunset Monday 1 Mar 2027.
const now = new Date('2026-11-30T10:00:00Z');
const sunset = new Date('2027-03-01T00:00:00Z');
const parse = (text: string, maxWindows?: number) =>
  parseBrownoutSchedule(text, { now, sunset, ...(maxWindows !== undefined && { maxWindows }) });

const errorOf = (result: ScheduleResult) => (result.ok ? undefined : result.error);

const w = (start: string, end: string, share: number, status: 410 | 503 = 410): BrownoutWindow => ({
  start: new Date(start).toISOString(),
  end: new Date(end).toISOString(),
  share,
  status,
});

describe('parseBrownoutSchedule', () => {
  it.each<[string, BrownoutWindow[]]>([
    ['2026-12-01T14:00Z/30m 25%', [w('2026-12-01T14:00Z', '2026-12-01T14:30Z', 0.25)]],
    ['2026-12-01T14:00:30Z/1h 100% 503', [w('2026-12-01T14:00:30Z', '2026-12-01T15:00:30Z', 1, 503)]],
    ['2026-12-01T16:00+02:00/2h30m 12.5%', [w('2026-12-01T14:00Z', '2026-12-01T16:30Z', 0.125)]],
    ['2026-12-01t14:00z/90m 1% 410', [w('2026-12-01T14:00Z', '2026-12-01T15:30Z', 0.01)]],
    [
      '2026-12-02T09:00Z/1h 50%,  2026-12-01T09:00Z/1h 10% 503',
      [
        w('2026-12-01T09:00Z', '2026-12-01T10:00Z', 0.1, 503),
        w('2026-12-02T09:00Z', '2026-12-02T10:00Z', 0.5),
      ],
    ],
    // Adjacent windows touch but do not overlap.
    [
      '2026-12-01T14:00Z/30m 25%, 2026-12-01T14:30Z/30m 50%',
      [w('2026-12-01T14:00Z', '2026-12-01T14:30Z', 0.25), w('2026-12-01T14:30Z', '2026-12-01T15:00Z', 0.5)],
    ],
    // Ends exactly at the sunset.
    ['2027-02-28T23:00Z/1h 25%', [w('2027-02-28T23:00Z', '2027-03-01T00:00Z', 0.25)]],
  ])('parses %j', (text, windows) => {
    expect(parse(text)).toEqual({ ok: true, windows });
  });

  it.each<[string, string, number | undefined]>([
    ['', 'the schedule is empty', undefined],
    ['2026-12-01T14:00/30m 25%', 'needs a time zone', 1],
    ['2026-12-01 14:00Z/30m 25%', 'one ISO value with a "T": 2026-12-01T14:00Z', 1],
    ['2026-02-30T14:00Z/30m 25%', 'is not a calendar date', 1],
    ['2026-12-01T24:00Z/30m 25%', 'is not a valid time of day', 1],
    ['2026-12-01T14:00Z/30 25%', 'is not a duration', 1],
    ['2026-12-01T14:00Z/0m 25%', 'is not a duration', 1],
    ['2026-12-01T14:00Z/30m', 'missing the share', 1],
    ['2026-12-01T14:00Z/30m 25', 'is not a share', 1],
    ['2026-12-01T14:00Z/30m 0.5%', 'between 1% and 100%', 1],
    ['2026-12-01T14:00Z/30m 101%', 'between 1% and 100%', 1],
    ['2026-12-01T14:00Z/30m 25% 500', 'must be 410 or 503', 1],
    ['2026-12-01T14:00Z/30m 25% 503 now', 'unexpected "now"', 1],
    ['2026-11-30T09:00Z/2h 25%', 'starts before now', 1],
    ['2027-02-28T23:30Z/1h 25%', 'ends after the sunset', 1],
    ['2026-12-01T14:00Z/30m 25%,', 'the item is empty', 2],
    ['2026-12-01T14:00Z/30m 25%, hourly 14:00/1h 5%', '"hourly" is not a schedule form', 2],
    ['daily 25:00/1h 5%', 'is not a UTC time of day', 1],
    ['weekly Funday 09:00/1h 5%', 'is not a weekday', 1],
    ['weekly Mon', 'expected "weekly', 1],
    ['daily 14:00/25h 5%', 'item 1 overlaps itself', undefined],
    ['2026-12-01T14:00Z/1h 25%, 2026-12-01T14:30Z/1h 25%', 'items 1 and 2 overlap', undefined],
  ])('rejects %j with a precise error', (text, message, item) => {
    const result = parse(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.message).toContain(message);
    expect(result.error.item).toBe(item);
    if (item !== undefined) expect(result.error.message).toContain(`brownout item ${item}`);
  });

  it('refuses a sunset that is not in the future', () => {
    const result = parseBrownoutSchedule('daily 14:00/1h 5%', { now, sunset: now });
    expect(errorOf(result)?.message).toContain('not in the future');
  });

  it('expands daily items from now up to the sunset, skipping today when the time has passed', () => {
    const result = parseBrownoutSchedule('daily 09:00/30m 10%', {
      now,
      sunset: new Date('2026-12-04T09:20Z'),
    });
    expect(result).toEqual({
      ok: true,
      windows: [
        w('2026-12-01T09:00Z', '2026-12-01T09:30Z', 0.1),
        w('2026-12-02T09:00Z', '2026-12-02T09:30Z', 0.1),
        w('2026-12-03T09:00Z', '2026-12-03T09:30Z', 0.1),
      ],
    });
  });

  it('expands weekly items on their weekday, including later today', () => {
    const result = parseBrownoutSchedule('weekly mon 14:00/1h 20% 503, weekly Thursday 08:00/2h 5%', {
      now,
      sunset: new Date('2026-12-10T00:00Z'),
    });
    expect(result).toEqual({
      ok: true,
      windows: [
        w('2026-11-30T14:00Z', '2026-11-30T15:00Z', 0.2, 503),
        w('2026-12-03T08:00Z', '2026-12-03T10:00Z', 0.05),
        w('2026-12-07T14:00Z', '2026-12-07T15:00Z', 0.2, 503),
      ],
    });
  });

  it('caps the expansion with an error rather than truncating', () => {
    expect(parse('daily 03:00/1h 5%').ok).toBe(true); // 91 windows
    const result = parse('daily 03:00/1h 5%', 50);
    expect(errorOf(result)?.message).toContain('more than 50 windows');
  });

  it('reports a recurrence with no occurrence before the sunset', () => {
    const result = parseBrownoutSchedule('weekly Fri 09:00/1h 5%', {
      now,
      sunset: new Date('2026-12-02T00:00Z'),
    });
    expect(errorOf(result)?.item).toBe(1);
    expect(errorOf(result)?.message).toContain('no occurrence');
  });
});

describe('formatting', () => {
  it('formats windows for humans', () => {
    expect(formatWindow(w('2026-12-01T14:00Z', '2026-12-01T14:30Z', 0.25))).toBe(
      'Tue 1 Dec 2026 14:00–14:30 UTC (30m), 25% refused with 410 Gone',
    );
    expect(formatWindow(w('2026-12-01T23:30Z', '2026-12-02T01:00Z', 0.125, 503))).toBe(
      'Tue 1 Dec 2026 23:30 UTC – Wed 2 Dec 2026 01:00 UTC (1h30m), 12.5% refused with 503 Service Unavailable',
    );
  });

  it('parses durations', () => {
    expect(parseDuration('2h30m')).toBe(9_000_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('45s')).toBe(45_000);
    expect(parseDuration('')).toBeUndefined();
    expect(parseDuration('m')).toBeUndefined();
    expect(parseDuration('30m2h')).toBeUndefined();
  });
});

describe('schedule properties', () => {
  const grammarish = fc
    .array(
      fc.constantFrom(
        '2026-12-01T14:00Z',
        '2027-02-30T14:00Z',
        '2026-12-01T14:00+99:00',
        'daily',
        'weekly',
        'Mon',
        '14:00',
        '/',
        '30m',
        '1h',
        '99999d',
        '25%',
        '%',
        '100%',
        '503',
        ',',
        ' ',
        '\u00a0',
        '0',
      ),
      { maxLength: 12 },
    )
    .map((parts) => parts.join(''));

  it('never throws on arbitrary text and always returns a typed result', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 200 }), grammarish), (text) => {
        const result = parse(text);
        if (result.ok) {
          expect(result.windows.length).toBeGreaterThan(0);
        } else {
          expect(typeof result.error.message).toBe('string');
          expect(result.error.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    );
  });

  const hhmm = fc
    .tuple(fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 60 }))
    .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
  const tail = fc
    .tuple(
      fc.constantFrom('15m', '1h', '2h30m', '1d', '0m'),
      fc.integer({ min: 0, max: 101 }),
      fc.constantFrom('', ' 503', ' 410', ' 500'),
    )
    .map(([duration, share, status]) => `/${duration} ${share}%${status}`);
  const item = fc.oneof(
    fc
      .tuple(fc.date({ min: now, max: sunset, noInvalidDate: true }), tail)
      .map(([start, rest]) => `${start.toISOString().slice(0, 16)}Z${rest}`),
    fc.tuple(hhmm, tail).map(([at, rest]) => `daily ${at}${rest}`),
    fc
      .tuple(fc.constantFrom('Mon', 'tue', 'Sunday', 'Xyz'), hhmm, tail)
      .map(([day, at, rest]) => `weekly ${day} ${at}${rest}`),
  );
  const structured = fc.array(item, { minLength: 1, maxLength: 4 }).map((items) => items.join(', '));

  it('returns sorted, non-overlapping windows inside [now, sunset] with shares in (0, 1]', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(grammarish, structured), (text) => {
        const result = parse(text);
        if (!result.ok) return;
        accepted++;
        let previousEnd = now.getTime();
        for (const window of result.windows) {
          const start = Date.parse(window.start);
          const end = Date.parse(window.end);
          expect(start).toBeGreaterThanOrEqual(previousEnd);
          expect(end).toBeGreaterThan(start);
          expect(end).toBeLessThanOrEqual(sunset.getTime());
          expect(window.share).toBeGreaterThan(0);
          expect(window.share).toBeLessThanOrEqual(1);
          previousEnd = end;
        }
      }),
      { numRuns: 2000 },
    );
    expect(accepted).toBeGreaterThan(100);
  });

  it('round-trips windows through formatSchedule', () => {
    const span = sunset.getTime() - now.getTime();
    const minutes = Math.floor(span / 60_000);
    const windows = fc
      .uniqueArray(fc.integer({ min: 0, max: minutes - 1 }), { minLength: 1, maxLength: 20 })
      .chain((offsets) => {
        const sorted = [...offsets].sort((a, b) => a - b);
        return fc.tuple(
          ...sorted.map((offset, index) => {
            const room = (sorted[index + 1] ?? minutes) - offset;
            return fc.record({
              offset: fc.constant(offset),
              length: fc.integer({ min: 1, max: room }),
              percent: fc.oneof(
                fc.integer({ min: 1, max: 100 }),
                fc.integer({ min: 100, max: 10_000 }).map((n) => n / 100),
              ),
              status: fc.constantFrom(410 as const, 503 as const),
            });
          }),
        );
      })
      .map((items) =>
        items.map((item): BrownoutWindow => ({
          start: new Date(now.getTime() + item.offset * 60_000).toISOString(),
          end: new Date(now.getTime() + (item.offset + item.length) * 60_000).toISOString(),
          share: item.percent / 100,
          status: item.status,
        })),
      );
    fc.assert(
      fc.property(windows, (expected) => {
        expect(parse(formatSchedule(expected), 1000)).toEqual({ ok: true, windows: expected });
      }),
      { numRuns: 300 },
    );
  });
});
