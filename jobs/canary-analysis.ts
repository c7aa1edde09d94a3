import { formatDuration } from '../src/config/duration.js';
import type { HealthConfig } from '../src/config/schema.js';
import type { HealthChecker } from '../src/integrations/health.js';

/** One analysis round: the environment's health checks, read once at a given weight. */
export interface Round {
  at: number;
  /** Index of the stop it was taken at (the number of stops at the gate). */
  stop: number;
  weight: number;
  ok: boolean;
  readings: { name: string; ok: boolean; detail: string }[];
}

export function hasChecks(health: HealthConfig | undefined): health is HealthConfig {
  return !!health && (health.probes.length > 0 || (health.prometheus?.checks.length ?? 0) > 0);
}

export async function analyse(
  checker: HealthChecker,
  health: HealthConfig | undefined,
  at: { stop: number; weight: number },
): Promise<Round> {
  const readings = hasChecks(health) ? await checker.check(health) : [];
  return {
    at: Date.now(),
    ...at,
    ok: readings.every((r) => r.ok),
    readings: readings.map((r) => ({ name: r.name, ok: r.ok, detail: r.detail })),
  };
}

/** "✓ error-rate 0.001 (max 0.005) · ✗ p99-latency 1.2 (max 0.8)" — the numbers, one line. */
export function readingsLine(round: Round | undefined): string {
  if (!round) return 'no analysis yet';
  if (round.readings.length === 0) return 'no health checks configured';
  return round.readings.map((r) => `${r.ok ? '✓' : '✗'} ${r.detail}`).join(' · ');
}

/** The failed readings of a round, for abort reasons: "error-rate 0.09 (max 0.005)". */
export function failedLine(round: Round): string {
  return round.readings
    .filter((r) => !r.ok)
    .map((r) => r.detail)
    .join('; ');
}

export function inWords(ms: number): string {
  return ms <= 0 ? 'now' : `in ${formatDuration(ms)}`;
}
