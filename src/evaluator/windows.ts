/**
 * Burn-rate windows of ratio SLOs, built from one base series per ratio part. Every window of an SLO is a multiple
 * of its base resolution (the gcd of its tier windows), so a window ending at t is the sum of the base rates at
 * t, t − res, t − 2·res, …: one range query per part serves every tier, for `eval`, `backtest` and `run` alike.
 */
import { formatDuration } from '../rules/duration.js';
import type { BurnRateTier, RatioSlo, Severity } from '../rules/model.js';
import { gcd } from '../util/async.js';

/** What to query for a ratio SLO. */
export interface RatioPlan {
  /** Base resolution: the range of each base rate, and the spacing of the points that make up a window. */
  resMs: number;
  /** The longest window, which sets how much history one evaluation needs. */
  longestMs: number;
  bad?: string;
  good?: string;
  total: string;
}

export function ratioPlan(slo: RatioSlo): RatioPlan {
  const windows = slo.tiers.flatMap((t) => [t.longMs, t.shortMs]);
  const resMs = windows.reduce((a, b) => gcd(a, b));
  const window = formatDuration(resMs);
  const fill = (q: string) => q.replaceAll('$window', window);
  return {
    resMs,
    longestMs: Math.max(...windows),
    ...(slo.ratio.bad !== undefined ? { bad: fill(slo.ratio.bad) } : {}),
    ...(slo.ratio.good !== undefined ? { good: fill(slo.ratio.good) } : {}),
    total: fill(slo.ratio.total),
  };
}

/**
 * Base rates of one instance on a regular time grid (NaN where Prometheus had no point), with running sums so that
 * any window ending at any grid point costs O(1).
 */
export class RateGrid {
  private readonly badSum: Float64Array;
  private readonly totalSum: Float64Array;
  private readonly totalCount: Float64Array;
  /** How many grid points one base resolution spans. */
  readonly stride: number;

  constructor(
    readonly start: number,
    readonly stepMs: number,
    bad: ArrayLike<number>,
    total: ArrayLike<number>,
    readonly resMs: number,
  ) {
    this.stride = resMs / stepMs;
    const n = total.length;
    this.badSum = new Float64Array(n);
    this.totalSum = new Float64Array(n);
    this.totalCount = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const prev = i - this.stride;
      const t = total[i]!;
      const b = bad[i]!;
      this.badSum[i] = (Number.isNaN(b) ? 0 : b) + (prev >= 0 ? this.badSum[prev]! : 0);
      this.totalSum[i] = (Number.isNaN(t) ? 0 : t) + (prev >= 0 ? this.totalSum[prev]! : 0);
      this.totalCount[i] = (Number.isNaN(t) ? 0 : 1) + (prev >= 0 ? this.totalCount[prev]! : 0);
    }
  }

  get length(): number {
    return this.totalSum.length;
  }

  /** Index of time `t` on the grid. */
  index(t: number): number {
    return Math.round((t - this.start) / this.stepMs);
  }

  /** Sums of bad and total rates over the window of `lengthMs` ending at grid point `i`. */
  window(i: number, lengthMs: number): WindowSum {
    const back = i - (lengthMs / this.resMs) * this.stride;
    const take = (a: Float64Array) => a[i]! - (back >= 0 ? a[back]! : 0);
    return { bad: take(this.badSum), total: take(this.totalSum), points: take(this.totalCount) };
  }

  /** The windows ending at grid point `i`. */
  windowsAt(i: number): Windows {
    return (lengthMs) => this.window(i, lengthMs);
  }
}

/** Sums of base rates over a window: bad, total, and how many base points had traffic data. */
export interface WindowSum {
  bad: number;
  total: number;
  points: number;
}

/** The windows ending at one moment, by length. */
export type Windows = (lengthMs: number) => WindowSum;

/** How one burn-rate tier stands at one moment. */
export interface TierStatus {
  severity: Severity;
  longMs: number;
  shortMs: number;
  factor: number;
  /** Burn rates: error ratio ÷ error budget (1 − objective); NaN without traffic. */
  longBurn: number;
  shortBurn: number;
  /** Events in the long window. */
  events: number;
  firing: boolean;
}

export interface RatioStatus {
  /** Share of good events over the longest window; NaN without traffic. */
  sli: number;
  tiers: TierStatus[];
  /** True when no window has any traffic data: the SLO has no data. */
  noData: boolean;
}

/**
 * Evaluates the tiers of a ratio SLO on the windows ending at one moment (base rates at resolution `resMs`).
 * Without `detail`, only firing tiers are listed (what alerting needs); with it, every tier (what `eval` shows).
 */
export function ratioStatus(slo: RatioSlo, windows: Windows, resMs: number, longestMs: number, detail = true): RatioStatus {
  const budget = 1 - slo.objective;
  const resSeconds = resMs / 1000;
  const burn = (w: { bad: number; total: number }) => (w.total > 0 ? w.bad / w.total / budget : NaN);
  const longest = windows(longestMs);
  if (longest.points === 0) return { sli: NaN, tiers: [], noData: true };
  const tiers = slo.tiers.flatMap((tier: BurnRateTier): TierStatus[] => {
    const long = windows(tier.longMs);
    const short = windows(tier.shortMs);
    const longBurn = burn(long);
    const shortBurn = burn(short);
    const events = long.total * resSeconds;
    const firing = longBurn > tier.factor && shortBurn > tier.factor && events >= slo.minEvents;
    if (!firing && !detail) return [];
    return [{ severity: tier.severity, longMs: tier.longMs, shortMs: tier.shortMs, factor: tier.factor, longBurn, shortBurn, events, firing }];
  });
  return { sli: longest.total > 0 ? 1 - longest.bad / longest.total : NaN, tiers, noData: false };
}
