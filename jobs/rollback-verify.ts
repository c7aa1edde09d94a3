import { formatDuration } from '../src/config/duration.js';
import type { HealthConfig } from '../src/config/schema.js';
import type { HealthChecker, HealthReading } from '../src/integrations/health.js';
import type { Outcome } from '../src/requests/outcome.js';
import { esc } from '../src/slack/cards.js';
import { plural } from '../src/text/plural.js';

/** What the verify step keeps across its rounds (checkpointed in the job). */
export interface Verification {
  rounds: number;
  startedAt: number;
  failures: string[];
  last: HealthReading[];
}

export type Verdict = Extract<Outcome, 'healthy' | 'degraded' | 'failed'>;

/**
 * How a stability window ends:
 * - healthy: every probe answered as expected and every series of every query was within its
 *   bounds, in every round;
 * - failed: in the last round nothing passed: no probe answered as expected and no series
 *   was within its bounds (or the queries returned no data) — the service is down;
 * - degraded: anything in between: some check failed in some round, but not everything in
 *   the last one (one pod of two erroring, a check that failed early and recovered).
 */
export function verdictOf(v: Verification): Verdict {
  if (v.failures.length === 0) return 'healthy';
  const passed = v.last.reduce((n, r) => n + r.units.passed, 0);
  return passed === 0 ? 'failed' : 'degraded';
}

/** One reading per line, marked, its text escaped for mrkdwn (series labels come from outside). */
export function readingLines(readings: HealthReading[]): string {
  return readings.map((r) => `${r.ok ? '✓' : '✗'} ${esc(r.detail)}`).join('\n');
}

export type RoundResult =
  | { done: false; v: Verification; progress: string; againMs: number }
  | {
      done: true;
      v: Verification;
      verdict: Verdict;
      /** One line for the outcome reply. */
      summary: string;
      /** Every reading of the last round, for the verify step's reply. */
      detail: string;
    };

/** Takes one round of readings and says whether the window is over, and how it ended. */
export async function verifyRound(
  checker: HealthChecker,
  health: HealthConfig,
  previous: Verification | undefined,
  now = Date.now,
): Promise<RoundResult> {
  const v: Verification = previous ?? { rounds: 0, startedAt: now(), failures: [], last: [] };
  const readings = await checker.check(health);
  v.rounds += 1;
  v.last = readings;
  for (const r of readings) if (!r.ok) v.failures.push(`round ${v.rounds}: ${r.detail}`);
  const elapsed = now() - v.startedAt;
  const lines = readingLines(readings);
  if (elapsed < health.stabilityWindow) {
    return {
      done: false,
      v,
      progress: `Round ${v.rounds}, ${formatDuration(elapsed)} of ${formatDuration(health.stabilityWindow)}:\n${lines}`,
      againMs: Math.min(health.interval, health.stabilityWindow - elapsed),
    };
  }
  const verdict = verdictOf(v);
  const window = formatDuration(health.stabilityWindow);
  const first = v.failures[0] ? `\nFirst failure: ${esc(v.failures[0])}` : '';
  const detail = {
    healthy: `Healthy over ${window} (${plural(v.rounds, 'round')}):\n${lines}`,
    degraded: `Degraded: ${plural(v.failures.length, 'failed check')} over ${plural(v.rounds, 'round')} of ${window}. Last round:\n${lines}${first}`,
    failed: `Failed: in the last round of ${window} no check passed (${plural(v.failures.length, 'failed check')} over ${plural(v.rounds, 'round')}). Last round:\n${lines}${first}`,
  }[verdict];
  return { done: true, v, verdict, summary: summaryLine(v, verdict), detail };
}

/**
 * The verdict in one line, for the outcome reply: the verify step's own reply already lists
 * every reading. What failed in the last round stays named, since that is what people act on.
 */
export function summaryLine(v: Verification, verdict: Verdict): string {
  const total = v.last.length;
  const passed = v.last.filter((r) => r.ok).length;
  const failing = v.last.filter((r) => !r.ok).map((r) => esc(r.detail));
  if (verdict === 'healthy') return `${passed} of ${plural(total, 'check')} passed in every round.`;
  if (failing.length === 0) {
    const first = v.failures[0] ? ` (first: ${esc(v.failures[0])})` : '';
    return `${passed} of ${plural(total, 'check')} passed in the last round; ${plural(v.failures.length, 'check')} failed in earlier rounds${first}.`;
  }
  return `${passed} of ${plural(total, 'check')} passed in the last round; failing: ${failing.join('; ')}.`;
}
