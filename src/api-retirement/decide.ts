import type { BrownoutWindow, DeprecationEntry } from './entry.js';
import { deprecationHeaders } from './headers.js';

export const PROBLEM_TYPES = {
  brownout: 'tag:backout,2026:api-retirement/brownout',
  sunset: 'tag:backout,2026:api-retirement/sunset',
} as const;

/** RFC 9457 problem details for a refused request. */
export interface RetirementProblem {
  type: string;
  title: string;
  status: number;
  detail: string;
  successor?: string;
  sunset: string;
}

export type Decision =
  | { action: 'pass'; delayMs: number; headers: Record<string, string> }
  | { action: 'refuse'; status: 410 | 503; headers: Record<string, string>; body: RetirementProblem };

/**
 * What to do with one request that matched `entry`, at `now`:
 * - at or after the sunset: refuse with 410 Gone, no delay;
 * - inside a brownout window: refuse with the window's status when `random() < share`, so the
 *   share only ever applies inside scheduled windows;
 * - otherwise pass, with the gradual delay: it ramps linearly from `delay.from` (default: the
 *   deprecation date) to the sunset, `delayMs = min(maxMs, maxMs * (now - from) / (sunset - from))`,
 *   and is 0 before `from` (rounded to whole milliseconds).
 * `random` is injected so tests can be exact.
 */
export function decide(entry: DeprecationEntry, now: Date, random: () => number = Math.random): Decision {
  const at = now.getTime();
  const sunset = Date.parse(entry.sunset);
  const headers = deprecationHeaders(entry);
  if (at >= sunset) return refuse(entry, headers, 410, 'sunset');
  const window = activeWindow(entry.brownouts, at);
  if (window && random() < window.share) {
    const extra: Record<string, string> = {};
    if (window.status === 503)
      extra['Retry-After'] = String(Math.max(1, Math.ceil((Date.parse(window.end) - at) / 1000)));
    return refuse(entry, { ...headers, ...extra }, window.status, 'brownout', window);
  }
  return { action: 'pass', delayMs: delayAt(entry, at), headers };
}

export function activeWindow(windows: readonly BrownoutWindow[], at: number): BrownoutWindow | undefined {
  return windows.find((w) => Date.parse(w.start) <= at && at < Date.parse(w.end));
}

export function delayAt(entry: DeprecationEntry, at: number): number {
  if (!entry.delay) return 0;
  const from = Date.parse(entry.delay.from ?? entry.deprecatedAt);
  const sunset = Date.parse(entry.sunset);
  if (at < from || sunset <= from) return 0;
  const { maxMs } = entry.delay;
  return Math.round(Math.min(maxMs, (maxMs * (at - from)) / (sunset - from)));
}

function refuse(
  entry: DeprecationEntry,
  headers: Record<string, string>,
  status: 410 | 503,
  kind: 'brownout' | 'sunset',
  window?: BrownoutWindow,
): Decision {
  const sunsetText = new Date(entry.sunset).toUTCString();
  const endpoint = entry.id;
  const instead = entry.successor
    ? `Use ${entry.successor} instead.`
    : entry.policy
      ? `See ${entry.policy} for what replaces it.`
      : 'It has no successor.';
  const detail =
    kind === 'sunset'
      ? `${endpoint} was retired on ${sunsetText}. ${instead}`
      : `${endpoint} is deprecated and will be retired on ${sunsetText}; this request was refused during a ` +
        `scheduled brownout that ends ${new Date(window!.end).toUTCString()}. ${instead}`;
  const body: RetirementProblem = {
    type: PROBLEM_TYPES[kind],
    title: kind === 'sunset' ? 'Endpoint retired' : 'Endpoint refused during a scheduled brownout',
    status,
    detail,
    ...(entry.successor && { successor: entry.successor }),
    sunset: new Date(entry.sunset).toISOString(),
  };
  return {
    action: 'refuse',
    status,
    // no-store: 410 is heuristically cacheable, and a brownout refusal must not outlive its window.
    headers: { ...headers, 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store' },
    body,
  };
}
