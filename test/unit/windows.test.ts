import { describe, expect, it } from 'vitest';
import { nextStart, occurrenceAt, parseRRule, parseWall, type Recurrence } from '../../src/policy/rrule.js';
import { windowVerdict, type ChangeWindow } from '../../src/policy/windows.js';

const HOUR = 3_600_000;
const at = (iso: string) => Date.parse(iso);

function rec(rrule: string, opts: { dtstart?: string; zone?: string; hours?: number } = {}): Recurrence {
  return {
    rule: parseRRule(rrule),
    start: parseWall(opts.dtstart ?? '2026-01-05T00:00'),
    zone: opts.zone ?? 'UTC',
    durationMs: (opts.hours ?? 1) * HOUR,
  };
}

function win(
  kind: 'allow' | 'deny',
  rrule: string,
  opts: Parameters<typeof rec>[1] & { automated?: boolean } = {},
): ChangeWindow {
  return { name: `${kind}-w`, kind, rrule, recurrence: rec(rrule, opts), automated: opts.automated ?? false };
}

describe('RRULE subset', () => {
  it.each([
    ['FREQ=DAILY', { freq: 'DAILY', interval: 1 }],
    [
      'RRULE:FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9,17;BYMINUTE=30',
      { freq: 'WEEKLY', interval: 1, byDay: ['MO', 'FR'], byHour: [9, 17], byMinute: [30] },
    ],
    ['freq=weekly;interval=2', { freq: 'WEEKLY', interval: 2 }],
  ])('parses %s', (text, rule) => {
    expect(parseRRule(text)).toEqual(rule);
  });

  it.each([
    ['FREQ=MONTHLY', /FREQ must be DAILY or WEEKLY/],
    ['FREQ=DAILY;BYHOUR=24', /BYHOUR must be 0–23/],
    ['FREQ=DAILY;BYDAY=XX', /BYDAY takes MO/],
    ['FREQ=DAILY;COUNT=3', /COUNT is not supported/],
    ['FREQ', /not NAME=VALUE/],
  ])('refuses %s with the fix', (text, message) => {
    expect(() => parseRRule(text)).toThrow(message);
  });

  it('weekly weekday windows at 09:00 for 8 hours', () => {
    const r = rec('FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9', { hours: 8 });
    expect(occurrenceAt(r, at('2026-12-07T10:00:00Z'))).toEqual({
      start: at('2026-12-07T09:00:00Z'),
      end: at('2026-12-07T17:00:00Z'),
    });
    expect(occurrenceAt(r, at('2026-12-07T17:00:00Z'))).toBeUndefined();
    // Friday evening → Monday morning.
    expect(nextStart(r, at('2026-12-11T18:00:00Z'))).toBe(at('2026-12-14T09:00:00Z'));
  });

  it('keeps the wall time across a daylight-saving change (Europe/Berlin)', () => {
    const r = rec('FREQ=DAILY;BYHOUR=9', { zone: 'Europe/Berlin' });
    expect(nextStart(r, at('2026-03-28T12:00:00Z'))).toBe(at('2026-03-29T07:00:00Z')); // CEST, UTC+2
    expect(nextStart(r, at('2026-03-27T12:00:00Z'))).toBe(at('2026-03-28T08:00:00Z')); // CET, UTC+1
  });

  it('INTERVAL=2 on a weekly rule skips every other week, counted from DTSTART', () => {
    const r = rec('FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;BYHOUR=0', { dtstart: '2026-01-05T00:00' });
    expect(occurrenceAt(r, at('2026-01-05T00:30:00Z'))).toBeDefined();
    expect(occurrenceAt(r, at('2026-01-12T00:30:00Z'))).toBeUndefined();
    expect(occurrenceAt(r, at('2026-01-19T00:30:00Z'))).toBeDefined();
  });

  it('an occurrence that crosses midnight is found on the next day', () => {
    const r = rec('FREQ=DAILY;BYHOUR=22', { hours: 4 });
    expect(occurrenceAt(r, at('2026-12-08T01:00:00Z'))?.start).toBe(at('2026-12-07T22:00:00Z'));
  });
});

describe('change windows', () => {
  const target = { service: 'checkout-api', environment: 'production' };

  it('no window: always open', () => {
    expect(windowVerdict([], target, at('2026-12-07T03:00:00Z'))).toEqual({ open: true });
  });

  it('outside every allow window: closed until the next one opens', () => {
    const allow = win('allow', 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9', { hours: 8 });
    const v = windowVerdict([allow], target, at('2026-12-11T10:00:00Z')); // a Friday
    expect(v).toMatchObject({
      open: false,
      window: { kind: 'allow' },
      reopensAt: at('2026-12-14T09:00:00Z'),
    });
  });

  it('deny wins over allow, and reopening waits for the deny to end inside an allow window', () => {
    const allow = win('allow', 'FREQ=DAILY;BYHOUR=9', { hours: 8 });
    const deny = win('deny', 'FREQ=DAILY;BYHOUR=12', { hours: 1 });
    const v = windowVerdict([allow, deny], target, at('2026-12-07T12:30:00Z'));
    expect(v).toMatchObject({
      open: false,
      window: { kind: 'deny' },
      until: at('2026-12-07T13:00:00Z'),
      reopensAt: at('2026-12-07T13:00:00Z'),
    });
    // A deny that runs past the end of the allow window: reopens at the next allow.
    const lateDeny = win('deny', 'FREQ=DAILY;BYHOUR=16', { hours: 2 });
    expect(windowVerdict([allow, lateDeny], target, at('2026-12-07T16:30:00Z'))).toMatchObject({
      reopensAt: at('2026-12-08T09:00:00Z'),
    });
  });

  it('a window scoped to other environments or to people only does not hold automated moves', () => {
    const deny = win('deny', 'FREQ=DAILY;BYHOUR=0', { hours: 24 });
    expect(
      windowVerdict([{ ...deny, environments: ['staging'] }], target, at('2026-12-07T03:00:00Z')).open,
    ).toBe(true);
    expect(windowVerdict([deny], target, at('2026-12-07T03:00:00Z'), { automated: true }).open).toBe(true);
    expect(
      windowVerdict([{ ...deny, automated: true }], target, at('2026-12-07T03:00:00Z'), { automated: true })
        .open,
    ).toBe(false);
  });
});
