import type { BrownoutWindow } from './entry.js';

/**
 * The `--brownout "<schedule>"` text: comma-separated items, each one of
 *   <ISO start>/<duration> <share>% [410|503]               e.g. 2026-12-01T14:00Z/30m 25%
 *   daily HH:MM/<duration> <share>% [410|503]               e.g. daily 14:00/1h 10% 503
 *   weekly <Mon..Sun> HH:MM/<duration> <share>% [410|503]   e.g. weekly Tue 09:30/2h30m 50%
 * Times are UTC unless the ISO start carries an offset; recurring items expand from now to the sunset.
 */
export interface ScheduleOptions {
  now: Date;
  sunset: Date;
  /** Expansion cap over all items; beyond it the schedule is refused rather than truncated. */
  maxWindows?: number;
}

export interface ScheduleError {
  message: string;
  /** 1-based position of the offending item, when one item is to blame. */
  item?: number;
  text?: string;
}

export type ScheduleResult = { ok: true; windows: BrownoutWindow[] } | { ok: false; error: ScheduleError };

export const DEFAULT_MAX_WINDOWS = 500;
const MAX_TEXT = 4000;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const FULL_WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const WEEKDAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

interface Rule {
  durationMs: number;
  share: number;
  status: 410 | 503;
}
type Item =
  | (Rule & { kind: 'once'; start: number })
  | (Rule & { kind: 'daily'; minuteOfDay: number })
  | (Rule & { kind: 'weekly'; weekday: number; minuteOfDay: number });

interface Placed {
  start: number;
  end: number;
  window: BrownoutWindow;
  item: number;
}

export function parseBrownoutSchedule(text: string, options: ScheduleOptions): ScheduleResult {
  const now = options.now.getTime();
  const sunset = options.sunset.getTime();
  const maxWindows = options.maxWindows ?? DEFAULT_MAX_WINDOWS;
  const fail = (message: string, item?: number, itemText?: string): ScheduleResult => ({
    ok: false,
    error: {
      message: item === undefined ? message : `brownout item ${item} ("${itemText ?? ''}"): ${message}`,
      ...(item !== undefined && { item }),
      ...(itemText !== undefined && { text: itemText }),
    },
  });
  if (Number.isNaN(now) || Number.isNaN(sunset)) return fail('now and the sunset must be valid dates');
  if (sunset <= now) return fail('the sunset is not in the future, so no brownout can be scheduled');
  if (text.length > MAX_TEXT) return fail(`the schedule is longer than ${MAX_TEXT} characters`);
  if (text.trim() === '') return fail('the schedule is empty; expected e.g. "2026-12-01T14:00Z/30m 25%"');

  const placed: Placed[] = [];
  const items = text.split(',');
  for (const [index, raw] of items.entries()) {
    const number = index + 1;
    const itemText = raw.trim();
    const item = parseItem(itemText);
    if (typeof item === 'string') return fail(item, number, itemText);
    const starts =
      item.kind === 'once' ? [item.start] : occurrences(item, now, sunset, maxWindows + 1 - placed.length);
    if (starts.length === 0) return fail('no occurrence fits between now and the sunset', number, itemText);
    for (const start of starts) {
      const end = start + item.durationMs;
      if (start < now) return fail(`starts before now (${new Date(now).toISOString()})`, number, itemText);
      if (end > sunset) {
        return fail(`ends after the sunset (${new Date(sunset).toISOString()})`, number, itemText);
      }
      const window: BrownoutWindow = {
        start: new Date(start).toISOString(),
        end: new Date(end).toISOString(),
        share: item.share,
        status: item.status,
      };
      placed.push({ start, end, window, item: number });
      if (placed.length > maxWindows) {
        return fail(
          `the schedule expands to more than ${maxWindows} windows; use fewer or shorter recurrences`,
        );
      }
    }
  }

  placed.sort((a, b) => a.start - b.start || a.item - b.item);
  for (let index = 1; index < placed.length; index++) {
    const previous = placed[index - 1]!;
    const current = placed[index]!;
    if (current.start < previous.end) {
      const who =
        previous.item === current.item
          ? `item ${current.item} overlaps itself`
          : `items ${previous.item} and ${current.item} overlap`;
      return fail(`${who}: ${formatWindow(previous.window)} and ${formatWindow(current.window)}`);
    }
  }
  return { ok: true, windows: placed.map((p) => p.window) };
}

function parseItem(text: string): Item | string {
  if (text === '') return 'the item is empty (a stray comma?)';
  const tokens = text.split(/\s+/);
  const [first = ''] = tokens;
  const head = first.toLowerCase();
  if (head === 'daily') {
    const [, at, ...rest] = tokens;
    if (at === undefined) return 'expected "daily HH:MM/<duration> <share>%"';
    const when = parseTimeAndDuration(at);
    if (typeof when === 'string') return when;
    const rule = parseRule(when.durationMs, rest);
    return typeof rule === 'string' ? rule : { kind: 'daily', minuteOfDay: when.minuteOfDay, ...rule };
  }
  if (head === 'weekly') {
    const [, day, at, ...rest] = tokens;
    if (day === undefined || at === undefined)
      return 'expected "weekly <Mon..Sun> HH:MM/<duration> <share>%"';
    const weekday = parseWeekday(day);
    if (weekday === undefined) return `"${day}" is not a weekday; use Mon, Tue, Wed, Thu, Fri, Sat or Sun`;
    const when = parseTimeAndDuration(at);
    if (typeof when === 'string') return when;
    const rule = parseRule(when.durationMs, rest);
    return typeof rule === 'string'
      ? rule
      : { kind: 'weekly', weekday, minuteOfDay: when.minuteOfDay, ...rule };
  }
  const [span = '', ...rest] = tokens;
  if (/^[a-z]+$/i.test(span))
    return `"${span}" is not a schedule form; start with an ISO date-time, "daily" or "weekly"`;
  if (/^\d{4}-\d{2}-\d{2}$/.test(span) && rest[0]?.includes('/')) {
    return `write the date and time as one ISO value with a "T": ${span}T${rest[0].split('/')[0]}`;
  }
  const [startText, durationText, ...extraParts] = span.split('/');
  if (startText === undefined || durationText === undefined || extraParts.length > 0)
    return 'expected "<start>/<duration> <share>%", e.g. "2026-12-01T14:00Z/30m 25%"';
  const start = parseIsoDateTime(startText);
  if (typeof start === 'string') return start;
  const durationMs = parseDuration(durationText);
  if (durationMs === undefined) return `"${durationText}" is not a duration; use e.g. 30m, 1h or 2h30m`;
  const rule = parseRule(durationMs, rest);
  return typeof rule === 'string' ? rule : { kind: 'once', start, ...rule };
}

function parseRule(durationMs: number, tokens: string[]): Rule | string {
  const [shareText, statusText, ...extra] = tokens;
  if (shareText === undefined) return 'missing the share of requests to refuse, e.g. 25%';
  const share = /^(\d{1,3}(?:\.\d{1,2})?)%$/.exec(shareText);
  if (!share) return `"${shareText}" is not a share; use a percentage such as 25% or 12.5%`;
  const percent = Number(share[1]);
  if (percent < 1 || percent > 100) return `the share ${shareText} must be between 1% and 100%`;
  let status: 410 | 503 = 410;
  if (statusText !== undefined) {
    if (statusText !== '410' && statusText !== '503') return `the status "${statusText}" must be 410 or 503`;
    status = statusText === '503' ? 503 : 410;
  }
  if (extra.length > 0) return `unexpected "${extra.join(' ')}" after the status`;
  return { durationMs, share: percent / 100, status };
}

function parseTimeAndDuration(text: string): { minuteOfDay: number; durationMs: number } | string {
  const [timeText, durationText, ...extraParts] = text.split('/');
  if (timeText === undefined || durationText === undefined || extraParts.length > 0)
    return `expected "HH:MM/<duration>", got "${text}"`;
  const time = /^(\d{1,2}):(\d{2})$/.exec(timeText);
  const hours = Number(time?.[1]);
  const minutes = Number(time?.[2]);
  if (!time || hours > 23 || minutes > 59) return `"${timeText}" is not a UTC time of day (HH:MM)`;
  const durationMs = parseDuration(durationText);
  if (durationMs === undefined) return `"${durationText}" is not a duration; use e.g. 30m, 1h or 2h30m`;
  return { minuteOfDay: hours * 60 + minutes, durationMs };
}

function parseWeekday(text: string): number | undefined {
  const lower = text.toLowerCase();
  const index = WEEKDAYS.findIndex((day, i) => lower === day || lower === FULL_WEEKDAYS[i]);
  return index === -1 ? undefined : index;
}

/** `1d2h30m15s`-style durations (each unit optional, in this order); undefined unless positive. */
export function parseDuration(text: string): number | undefined {
  const match = /^(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?$/i.exec(text.trim());
  if (!match || text.trim() === '') return undefined;
  const [days, hours, minutes, seconds] = match.slice(1).map((part) => Number(part ?? 0)) as [
    number,
    number,
    number,
    number,
  ];
  const ms = (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000;
  return ms > 0 ? ms : undefined;
}

export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0) parts.push(`${count}${unit}`);
  }
  return parts.join('') || '0s';
}

/** Strict ISO 8601 date-time with an explicit zone: `2026-12-01T14:00Z`, `…T14:00:30+02:00`, `…T14:00:30.5Z`. */
function parseIsoDateTime(text: string): number | string {
  const match =
    /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(text);
  if (!match) return `"${text}" is not an ISO date-time; use e.g. 2026-12-01T14:00Z`;
  const [, y, mo, d, h, mi, s = '0', frac, zone] = match;
  if (zone === undefined) return `"${text}" needs a time zone, e.g. ${text}Z for UTC`;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const daysInMonth =
    new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeap(year) ? 1 : 0);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return `"${text}" is not a calendar date`;
  if (hour > 23 || minute > 59 || second > 59) return `"${text}" is not a valid time of day`;
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const offsetMins = Number(digits.slice(2));
    if (offsetHours > 23 || offsetMins > 59) return `"${zone}" is not a valid UTC offset`;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number((frac ?? '0').padEnd(3, '0')));
  return date.getTime() - offsetMinutes * MINUTE;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Starts of a recurring item's occurrences in [now, sunset], at most `limit` of them. */
function occurrences(
  item: Exclude<Item, { kind: 'once' }>,
  now: number,
  sunset: number,
  limit: number,
): number[] {
  const midnight = Math.floor(now / DAY) * DAY;
  const step = item.kind === 'daily' ? DAY : 7 * DAY;
  const dayOffset =
    item.kind === 'daily' ? 0 : ((item.weekday - new Date(midnight).getUTCDay() + 7) % 7) * DAY;
  let start = midnight + dayOffset + item.minuteOfDay * MINUTE;
  if (start < now) start += step;
  const starts: number[] = [];
  while (start + item.durationMs <= sunset && starts.length < limit) {
    starts.push(start);
    start += step;
  }
  return starts;
}

function percent(share: number): number {
  return Math.round(share * 10_000) / 100;
}

/** Human text for a Slack card: `Tue 1 Dec 2026 14:00–14:30 UTC (30m), 25% refused with 410 Gone`. */
export function formatWindow(window: BrownoutWindow): string {
  const start = new Date(window.start);
  const end = new Date(window.end);
  const sameDay = start.toISOString().slice(0, 10) === end.toISOString().slice(0, 10);
  const span = sameDay
    ? `${formatDay(start)} ${formatTime(start)}–${formatTime(end)} UTC`
    : `${formatDay(start)} ${formatTime(start)} UTC – ${formatDay(end)} ${formatTime(end)} UTC`;
  const status = window.status === 503 ? '503 Service Unavailable' : '410 Gone';
  const duration = formatDuration(end.getTime() - start.getTime());
  return `${span} (${duration}), ${percent(window.share)}% refused with ${status}`;
}

/** Schedule text that `parseBrownoutSchedule` reads back into the same windows. */
export function formatSchedule(windows: readonly BrownoutWindow[]): string {
  return windows
    .map((window) => {
      const start = new Date(window.start);
      const iso = start.toISOString();
      const stamp = start.getUTCSeconds() || start.getUTCMilliseconds() ? iso : `${iso.slice(0, 16)}Z`;
      const duration = formatDuration(Date.parse(window.end) - start.getTime());
      return `${stamp}/${duration} ${percent(window.share)}%${window.status === 503 ? ' 503' : ''}`;
    })
    .join(', ');
}

function formatDay(date: Date): string {
  const day = `${WEEKDAY_NAMES[date.getUTCDay()]} ${date.getUTCDate()} ${MONTH_NAMES[date.getUTCMonth()]}`;
  return `${day} ${date.getUTCFullYear()}`;
}

function formatTime(date: Date): string {
  const hhmm = date.toISOString().slice(11, 16);
  return date.getUTCSeconds() ? `${hhmm}:${date.toISOString().slice(17, 19)}` : hhmm;
}
