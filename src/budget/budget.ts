/**
 * Error-budget maths, pure: from per-step weights of bad and all events (a ratio SLO's rates, or a threshold SLO's
 * time in breach) to the SLI over the window, the budget spent and remaining, burn rates, and when it runs out.
 * Ratios are fractions: `budget.total` is the bad share the objective allows, `spent` and `remaining` are shares of
 * that budget (`spent + remaining = 1`; `remaining` goes negative once the budget is overspent).
 */
import { burnRate, errorBudget } from '../rules/burn-rate.js';

/** The windows burn rates are reported over (the long windows of the Workbook's tiers, WORKBOOK_TIERS). */
export const BURN_WINDOWS = { '1h': 3600_000, '6h': 6 * 3600_000, '3d': 3 * 24 * 3600_000 } as const;
export type BurnWindow = keyof typeof BURN_WINDOWS;

/**
 * Per-step weights on a regular grid ending at `at`: `bad[i]` and `total[i]` are what the step ending at
 * `start + i·stepMs` counted (events, or for a threshold SLO 1 when in breach / 1 when there was data). NaN is no data,
 * and so is every step before `start` (a series may leave out the window's older steps that had none).
 */
export interface BudgetSeries {
  start: number;
  stepMs: number;
  bad: ArrayLike<number>;
  total: ArrayLike<number>;
}

/** What the SLI counts: good events (ratio SLOs), or time within the objective (threshold SLOs). */
export type BudgetBasis = 'events' | 'time';

export interface Budget {
  basis: BudgetBasis;
  at: number;
  windowMs: number;
  /** Target share of good events (or of time within the objective). */
  objective: number;
  /** Share of good over the window; NaN without data. */
  sli: number;
  budget: { total: number; spent: number; remaining: number };
  /** Error ratio over each window ÷ the budget (1 spends exactly the budget over the SLO window); NaN without data. */
  burnRates: Record<BurnWindow, number>;
  /** How long the remaining budget lasts at the 1h burn rate; null when nothing burns or nothing is left. */
  timeLeftMs: number | null;
  /** When the budget runs out at the 6h burn rate, or when it ran out (already overspent); null when it does not. */
  exhaustedAt: number | null;
  /** The remaining budget over the window, at most BURN_DOWN_POINTS points. */
  burnDown: BurnDown;
}

/**
 * Points of a burn-down line: the remaining share `remaining[k]` at `times[k]`, in time order. Typed arrays: `sloe run`
 * keeps every SLO's budget, and as 240 pairs of numbers in arrays a burn-down took about 17 KB of heap, 170 MB at
 * 10,000 SLOs (3.8 KB here, outside the heap).
 */
export interface BurnDown {
  times: Float64Array;
  remaining: Float64Array;
}

/** Points of a burn-down line kept at most (the chart is a few hundred pixels wide). */
export const BURN_DOWN_POINTS = 240;

const clean = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? 0 : x);

/**
 * Computes the budget of the window ending at `at` (the last grid point at or before it). The window's steps before
 * the series' start count as no data: the same budget, burn-down included, as from the series padded with NaN.
 */
export function computeBudget(
  series: BudgetSeries,
  objective: number,
  windowMs: number,
  at: number,
  basis: BudgetBasis,
): Budget {
  const { start, stepMs } = series;
  const n = series.total.length;
  const allowed = errorBudget(objective);
  const last = Math.min(n - 1, Math.floor((at - start) / stepMs));
  // Running sums from the first point: a window ending at `last` is a difference of two of them.
  const badSum = new Float64Array(n + 1);
  const totalSum = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    const t = series.total[i];
    const has = t !== undefined && !Number.isNaN(t);
    badSum[i + 1] = badSum[i]! + (has ? clean(series.bad[i]) : 0);
    totalSum[i + 1] = totalSum[i]! + (has ? t : 0);
  }
  // The running sums up to step i (exclusive); 0 for steps before the series (no data), the whole for those after.
  const upTo = (sums: Float64Array, i: number) => sums[Math.max(0, Math.min(n, i))]!;
  // `first` may be before the series' start (negative).
  const windowOf = (lengthMs: number) => {
    const first = last + 1 - Math.round(lengthMs / stepMs);
    return {
      first,
      bad: upTo(badSum, last + 1) - upTo(badSum, first),
      total: upTo(totalSum, last + 1) - upTo(totalSum, first),
    };
  };
  const w = windowOf(windowMs);
  const errorRatio = w.total > 0 ? w.bad / w.total : NaN;
  const sli = 1 - errorRatio;
  const spent = errorRatio / allowed;
  const remaining = 1 - spent;
  const burnRates = Object.fromEntries(
    Object.entries(BURN_WINDOWS).map(([name, ms]) => {
      const b = windowOf(ms);
      return [name, b.total > 0 ? burnRate(b.bad / b.total, objective) : NaN];
    }),
  ) as Record<BurnWindow, number>;

  // Burn-down: the share of the window's allowance (allowed × all events of the window) left after each step.
  const allowance = allowed * w.total;
  let ranOutAt: number | null = null;
  const every = Math.max(1, Math.ceil((last + 1 - w.first) / BURN_DOWN_POINTS));
  // Every `every`-th step from the window's first, and its last: one buffer holds the times, then the shares.
  const span = last - w.first;
  const count = span < 0 ? 0 : Math.floor(span / every) + 1 + (span % every === 0 ? 0 : 1);
  const points = new Float64Array(2 * count);
  const burnDown = { times: points.subarray(0, count), remaining: points.subarray(count) };
  for (let i = w.first, k = 0; i <= last; i++) {
    const left = allowance > 0 ? 1 - (upTo(badSum, i + 1) - upTo(badSum, w.first)) / allowance : NaN;
    if (ranOutAt === null && left <= 1e-12) ranOutAt = start + i * stepMs;
    if ((i - w.first) % every === 0 || i === last) {
      burnDown.times[k] = start + i * stepMs;
      burnDown.remaining[k++] = left;
    }
  }

  const lasting = (burn: number) =>
    remaining > 0 && burn > 0 && Number.isFinite(burn) ? (remaining * windowMs) / burn : null;
  const timeLeftMs = lasting(burnRates['1h']);
  const at6h = lasting(burnRates['6h']);
  const exhaustedAt = Number.isNaN(remaining) ? null : remaining <= 0 ? ranOutAt : at6h === null ? null : at + at6h;
  return {
    basis,
    at,
    windowMs,
    objective,
    sli,
    budget: { total: allowed, spent, remaining },
    burnRates,
    timeLeftMs,
    exhaustedAt,
    burnDown,
  };
}

/** Healthy, burning (spending faster than the window allows, or not enough left), exhausted, or no data. */
export type BudgetHealth = 'healthy' | 'burning' | 'exhausted' | 'nodata';

export function budgetHealth(b: Pick<Budget, 'budget' | 'burnRates'>): BudgetHealth {
  const { remaining } = b.budget;
  if (Number.isNaN(remaining)) return 'nodata';
  if (remaining <= 0) return 'exhausted';
  const burn = b.burnRates['6h'];
  return burn > 1 || remaining < 0.1 ? 'burning' : 'healthy';
}
