import { describe, expect, it } from 'vitest';
import { describeTrend, trend } from '../../src/api-retirement/trend.js';

describe('the trend of daily usage', () => {
  it.each([
    [[], 'flat', 0],
    [[5], 'flat', 0],
    [[0, 0, 0, 0], 'flat', 0],
    [[10, 10, 10, 10], 'flat', 0],
    [[10, 11, 9, 10, 10], 'flat', -0.1],
    [[0, 2, 4, 6, 8], 'rising', 2],
    [[30, 20, 10, 0], 'falling', -10],
    [[100, 0, 0, 0, 0, 0, 0], 'falling', -10.71],
  ] as const)('%j is %s with slope %d', (daily, direction, slope) => {
    expect(trend(daily)).toEqual({ direction, slopePerDay: slope });
  });

  it('says it in words', () => {
    expect(describeTrend({ direction: 'flat', slopePerDay: 0.01 })).toBe('flat');
    expect(describeTrend({ direction: 'rising', slopePerDay: 2 })).toBe('rising (+2 requests/day each day)');
    expect(describeTrend({ direction: 'falling', slopePerDay: -1.5 })).toBe(
      'falling (-1.5 requests/day each day)',
    );
  });
});
