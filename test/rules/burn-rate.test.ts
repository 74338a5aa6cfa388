import { describe, expect, it } from 'vitest';
import {
  WORKBOOK_TIERS,
  burnFactor,
  burnRate,
  defaultShortMs,
  errorRatioLimit,
  maxBurnRate,
} from '../../src/rules/burn-rate.js';
import { formatDuration } from '../../src/rules/duration.js';

const DAYS_30 = 30 * 24 * 3600_000;

describe('the Workbook tiers', () => {
  it.each([
    ['page', '1h', '5m', 14.4],
    ['page', '6h', '30m', 6],
    ['ticket', '3d', '6h', 1],
  ] as const)('%s over %s and %s fires above %d× on a 30-day window', (severity, long, short, factor) => {
    const tier = WORKBOOK_TIERS.find((t) => formatDuration(t.longMs) === long);
    expect(tier).toMatchObject({ severity });
    expect(formatDuration(tier!.shortMs)).toBe(short);
    expect(burnFactor(tier!.budget, DAYS_30, tier!.longMs)).toBeCloseTo(factor, 9);
  });

  it('a 7-day window lowers the factors by the same ratio', () => {
    expect(WORKBOOK_TIERS.map((t) => burnFactor(t.budget, 7 * 24 * 3600_000, t.longMs))).toEqual([
      3.36, 1.4, 0.23333333333333334,
    ]);
  });
});

describe('burn-rate formulas', () => {
  it('a tier with only a long window gets a twelfth of it as its short window', () => {
    expect(formatDuration(defaultShortMs(3600_000))).toBe('5m');
  });

  it('a 99.9% objective burns at most 1000× (every event bad), and 1% bad is a burn rate of 10', () => {
    expect(maxBurnRate(0.999)).toBeCloseTo(1000, 6);
    expect(burnRate(0.01, 0.999)).toBeCloseTo(10, 9);
  });

  it('the error-ratio limit is where the burn rate reaches the factor', () => {
    const limit = errorRatioLimit(14.4, 0.999);
    expect(limit).toBeCloseTo(0.0144, 12);
    expect(burnRate(limit, 0.999)).toBeCloseTo(14.4, 9);
  });
});
