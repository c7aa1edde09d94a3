/** Summaries of latency samples (nearest-rank percentiles, as most load tools report them). */
export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  return {
    n,
    mean: n ? sorted.reduce((s, v) => s + v, 0) / n : Number.NaN,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: n ? sorted[n - 1]! : Number.NaN,
  };
}

/** `12.3 ms` with one decimal below 100 ms, none above. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return `${value < 100 ? value.toFixed(1) : Math.round(value)} ms`;
}

export function mb(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(1)} MB` : 'n/a';
}

export function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a';
}
