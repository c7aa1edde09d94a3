import { PolicyError } from '../errors.js';
import { slackDate } from '../text/time.js';
import { nextStart, occurrenceAt, type Recurrence } from './rrule.js';

/**
 * A change window (Kargo-style): `allow` windows are the only times forward moves may happen
 * (when any applies), `deny` windows are times they may not; deny always wins.
 */
export interface ChangeWindow {
  name: string;
  kind: 'allow' | 'deny';
  /** The rule as written, for messages. */
  rrule: string;
  recurrence: Recurrence;
  environments?: string[];
  services?: string[];
  /** Also holds back automated forward moves (a canary's next step), not only people's. */
  automated: boolean;
}

export type WindowVerdict =
  | { open: true }
  | {
      open: false;
      /** The window that closes the door now: an open deny, or (with allow windows) the nearest allow. */
      window: ChangeWindow;
      /** Until when that deny window is in force. */
      until?: number;
      /** When forward moves are possible again; absent when no window in the next 400 days allows it. */
      reopensAt?: number;
    };

function applies(
  w: ChangeWindow,
  service: string,
  environment: string | undefined,
  automated: boolean,
): boolean {
  return (
    (!automated || w.automated) &&
    (!w.services || w.services.includes(service)) &&
    (!w.environments || (environment !== undefined && w.environments.includes(environment)))
  );
}

/** Whether forward moves of this service and environment may happen at `now`, and if not, until when. */
export function windowVerdict(
  windows: readonly ChangeWindow[],
  target: { service: string; environment?: string },
  now: number,
  opts: { automated?: boolean } = {},
): WindowVerdict {
  const mine = windows.filter((w) => applies(w, target.service, target.environment, opts.automated ?? false));
  const denies = mine.filter((w) => w.kind === 'deny');
  const allows = mine.filter((w) => w.kind === 'allow');
  const blocker = (t: number) => {
    const open = denies
      .map((w) => ({ w, occ: occurrenceAt(w.recurrence, t) }))
      .filter((d) => d.occ !== undefined)
      .sort((a, b) => b.occ!.end - a.occ!.end)[0];
    if (open) return { window: open.w, until: open.occ!.end, next: open.occ!.end };
    if (allows.length === 0 || allows.some((w) => occurrenceAt(w.recurrence, t))) return undefined;
    const soonest = allows
      .map((w) => ({ w, at: nextStart(w.recurrence, t) }))
      .filter((a) => a.at !== undefined)
      .sort((a, b) => a.at! - b.at!)[0];
    return { window: soonest?.w ?? allows[0]!, next: soonest?.at };
  };
  const first = blocker(now);
  if (!first) return { open: true };
  let t = first.next;
  // Each hop ends a deny or starts an allow; a handful settles any sane schedule.
  for (let hop = 0; t !== undefined && hop < 50; hop++) {
    const b = blocker(t);
    if (!b) break;
    t = b.next;
  }
  return {
    open: false,
    window: first.window,
    ...(first.until !== undefined ? { until: first.until } : {}),
    ...(t !== undefined ? { reopensAt: t } : {}),
  };
}

/** The refusal people read: which window, and when forward moves are possible again. */
export function windowRefusal(verdict: Extract<WindowVerdict, { open: false }>, what: string): PolicyError {
  const w = verdict.window;
  const why =
    w.kind === 'deny'
      ? `the ${w.name} deny window is in force${verdict.until ? ` until ${slackDate(verdict.until)}` : ''}`
      : `it is outside the ${w.name} allow window`;
  const reopens = verdict.reopensAt
    ? `Changes reopen ${slackDate(verdict.reopensAt)}.`
    : 'No window in the next 400 days allows it.';
  return new PolicyError(
    `${what} was refused: ${why} (\`${w.rrule}\`, ${w.recurrence.zone}). Nothing was changed. ${reopens}`,
    {
      hint: 'Try again once the window reopens; rolling back and aborting canaries stay possible at any time.',
    },
  );
}

/** Throws the refusal when forward moves are closed now. */
export function assertWindowOpen(
  windows: readonly ChangeWindow[],
  target: { service: string; environment?: string },
  what: string,
  now: number,
): void {
  const verdict = windowVerdict(windows, target, now);
  if (!verdict.open) throw windowRefusal(verdict, what);
}
