/** Which way a daily series goes, for usage evidence. */
export interface Trend {
  direction: 'rising' | 'falling' | 'flat';
  /** Least-squares slope, in requests per day per day. */
  slopePerDay: number;
}

/**
 * The least-squares line through daily counts (oldest first). "flat" when the fitted line moves
 * less than 10 % of the mean across the period (or there is no traffic), so a noisy but steady
 * caller is not called rising or falling.
 */
export function trend(daily: readonly number[]): Trend {
  const n = daily.length;
  if (n < 2) return { direction: 'flat', slopePerDay: 0 };
  const meanX = (n - 1) / 2;
  const meanY = daily.reduce((sum, y) => sum + y, 0) / n;
  let numerator = 0;
  let denominator = 0;
  daily.forEach((y, x) => {
    numerator += (x - meanX) * (y - meanY);
    denominator += (x - meanX) ** 2;
  });
  const slope = numerator / denominator;
  const slopePerDay = Math.round(slope * 100) / 100;
  if (meanY === 0 || Math.abs(slope * (n - 1)) < 0.1 * meanY) return { direction: 'flat', slopePerDay };
  return { direction: slope > 0 ? 'rising' : 'falling', slopePerDay };
}

export function describeTrend({ direction, slopePerDay }: Trend): string {
  if (direction === 'flat') return 'flat';
  return `${direction} (${slopePerDay > 0 ? '+' : ''}${slopePerDay} requests/day each day)`;
}
