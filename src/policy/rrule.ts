/**
 * The part of RFC 5545 recurrence rules that change windows need: FREQ=DAILY|WEEKLY, INTERVAL,
 * BYDAY (plain weekdays), BYHOUR, BYMINUTE, anchored at a DTSTART given as wall time in an IANA
 * time zone. Occurrences are wall times in that zone, so "09:00 Europe/Berlin" stays 09:00
 * across daylight-saving changes. Time zones come from Intl; no dependency.
 */

const WEEKDAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface RRule {
  freq: 'DAILY' | 'WEEKLY';
  interval: number;
  byDay?: Weekday[];
  byHour?: number[];
  byMinute?: number[];
}

const DAY = 86_400_000;

/** Parses `FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9` (an optional `RRULE:` prefix too); throws with the fix. */
export function parseRRule(text: string): RRule {
  const body = text.trim().replace(/^RRULE:/i, '');
  const parts = new Map<string, string>();
  for (const part of body.split(';').filter(Boolean)) {
    const [key, value] = part.split('=');
    if (!key || value === undefined || value === '')
      throw new Error(`"${part}" is not NAME=VALUE (e.g. FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=9)`);
    parts.set(key.toUpperCase(), value.toUpperCase());
  }
  const freq = parts.get('FREQ');
  if (freq !== 'DAILY' && freq !== 'WEEKLY')
    throw new Error(`FREQ must be DAILY or WEEKLY (got ${freq ?? 'nothing'})`);
  const rule: RRule = { freq, interval: 1 };
  for (const [key, value] of parts) {
    if (key === 'FREQ') continue;
    if (key === 'INTERVAL') rule.interval = int(value, 1, 366, key);
    else if (key === 'BYDAY') rule.byDay = value.split(',').map(weekday);
    else if (key === 'BYHOUR') rule.byHour = value.split(',').map((v) => int(v, 0, 23, key));
    else if (key === 'BYMINUTE') rule.byMinute = value.split(',').map((v) => int(v, 0, 59, key));
    else throw new Error(`${key} is not supported (use FREQ, INTERVAL, BYDAY, BYHOUR, BYMINUTE)`);
  }
  return rule;
}

function int(v: string, min: number, max: number, key: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new Error(`${key} must be ${min}–${max} (got ${v})`);
  return n;
}

function weekday(v: string): Weekday {
  const day = WEEKDAYS.find((d) => d === v);
  if (!day) throw new Error(`BYDAY takes MO,TU,WE,TH,FR,SA,SU (got ${v})`);
  return day;
}

/** Throws when Intl does not know the zone. */
export function checkTimeZone(zone: string): void {
  new Intl.DateTimeFormat('en-US', { timeZone: zone });
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's wall time at `at`, as if it were UTC (so date arithmetic stays in plain numbers). */
function wallMs(at: number, zone: string): number {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, x.value]));
  return Date.UTC(+p.year!, +p.month! - 1, +p.day!, +p.hour!, +p.minute!, +p.second!);
}

/** The instant a wall time in `zone` stands for: the earlier one in a DST overlap, just after a DST gap. */
export function fromWall(wall: number, zone: string): number {
  const t1 = wall - (wallMs(wall, zone) - wall);
  const t2 = wall - (wallMs(t1, zone) - t1);
  const hits = [t1, t2].filter((t) => wallMs(t, zone) === wall);
  return hits.length > 0 ? Math.min(...hits) : Math.max(t1, t2);
}

/** A wall date-time `2026-01-05T09:00[:00]` read as if UTC. */
export function parseWall(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (!m) throw new Error(`expected a local date-time such as 2026-01-05T09:00 (got ${text})`);
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0));
}

export interface Recurrence {
  rule: RRule;
  /** DTSTART as wall time (read as if UTC) in `zone`. */
  start: number;
  zone: string;
  durationMs: number;
}

/** Occurrence starts (instants) whose wall date lies in [fromWallDay, toWallDay], in order. */
function startsBetween(r: Recurrence, fromWallDay: number, toWallDay: number): number[] {
  const startDay = Math.floor(r.start / DAY) * DAY;
  const anchor = new Date(r.start);
  const hours = r.rule.byHour ?? [anchor.getUTCHours()];
  const minutes = r.rule.byMinute ?? [anchor.getUTCMinutes()];
  const days =
    r.rule.byDay ?? (r.rule.freq === 'WEEKLY' ? [WEEKDAYS[(anchor.getUTCDay() + 6) % 7]!] : undefined);
  // Weeks start on Monday (RFC 5545's default WKST).
  const weekOf = (day: number) => Math.floor((day / DAY + 3) / 7);
  const out: number[] = [];
  for (let day = Math.max(fromWallDay, startDay); day <= toWallDay; day += DAY) {
    const dow = WEEKDAYS[(new Date(day).getUTCDay() + 6) % 7]!;
    if (days && !days.includes(dow)) continue;
    const step = r.rule.freq === 'DAILY' ? (day - startDay) / DAY : weekOf(day) - weekOf(startDay);
    if (step % r.rule.interval !== 0) continue;
    for (const h of [...hours].sort((a, b) => a - b))
      for (const m of [...minutes].sort((a, b) => a - b)) {
        const wall = day + h * 3_600_000 + m * 60_000;
        if (wall >= r.start) out.push(fromWall(wall, r.zone));
      }
  }
  return out;
}

/** The occurrence `[start, end)` that contains `at`, if any (the latest-ending one). */
export function occurrenceAt(r: Recurrence, at: number): { start: number; end: number } | undefined {
  const today = Math.floor(wallMs(at, r.zone) / DAY) * DAY;
  const back = Math.ceil(r.durationMs / DAY) + 1;
  let found: { start: number; end: number } | undefined;
  for (const s of startsBetween(r, today - back * DAY, today + DAY)) {
    if (s <= at && at < s + r.durationMs && (!found || s + r.durationMs > found.end))
      found = { start: s, end: s + r.durationMs };
  }
  return found;
}

/** The first occurrence start strictly after `at`, looking up to `horizonDays` ahead. */
export function nextStart(r: Recurrence, at: number, horizonDays = 400): number | undefined {
  const today = Math.floor(wallMs(at, r.zone) / DAY) * DAY;
  for (let from = today; from < today + horizonDays * DAY; from += 31 * DAY) {
    const s = startsBetween(r, from, from + 30 * DAY).find((t) => t > at);
    if (s !== undefined) return s;
  }
  return undefined;
}
