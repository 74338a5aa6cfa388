/**
 * Error-budget maths, pure: from per-step weights of bad and all events (a ratio SLO's rates, or a threshold SLO's
 * time in breach) to the SLI over the window, the budget spent and remaining, burn rates, and when it runs out.
 * Ratios are fractions: `budget.total` is the bad share the objective allows, `spent` and `remaining` are shares of
 * that budget (`spent + remaining = 1`; `remaining` goes negative once the budget is overspent).
 */
import { burnRate, errorBudget } from '../rules/burn-rate.js';
import {
  type BudgetWeights,
  blockValues,
  compacted,
  layout,
  mod,
  peakOf,
  type Spans,
  spansOf,
  stepsEnd,
  stepWeights,
  sumBefore,
  type WeightsShape,
  withRanOut,
} from './weights.js';

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
  /**
   * The remaining budget over the window, at about BURN_DOWN_POINTS points: computed when asked for (only the status
   * page draws it, for a service's SLOs or one SLO), from the weights the budget was computed from. `sloe run` keeps
   * every SLO's budget: made at every refresh, the burn-downs took 3.8 KB an SLO, 38 MB at 10,000 SLOs.
   */
  burnDown(): BurnDown;
}

/** Points of a burn-down line: the remaining share `remaining[k]` at `times[k]`, in time order. */
export interface BurnDown {
  times: Float64Array;
  remaining: Float64Array;
  /** Why there is no line (it could not be read), where that is the case. */
  error?: string;
}

/**
 * Blocks of a window (a few hundred pixels of chart): the burn-down has a point at the end of each block (blocks of
 * a whole number of steps, at absolute multiples of their length), at the window's first step and at its last.
 */
export const BURN_DOWN_POINTS = 240;

/**
 * The shape of the weights of a budget over `windowMs` on a grid of `stepMs`: its blocks, its burn windows (the 1h and
 * 6h ones kept per step, the first block of the 3d one). Blocks of 3 steps or fewer (windows of 12 hours or less) keep
 * the whole 3d window per step: a block between takes 24 bytes (two sums and a peak), as much as 3 steps.
 */
export function weightsShape(start: number, stepMs: number, windowMs: number): WeightsShape & { start: number } {
  const steps = (ms: number) => Math.max(1, Math.round(ms / stepMs));
  const blockSteps = Math.max(1, Math.ceil(Math.round(windowMs / stepMs) / BURN_DOWN_POINTS));
  const longSteps = steps(BURN_WINDOWS['3d']);
  return {
    start,
    stepMs,
    blockSteps,
    recentSteps: blockSteps > 3 ? Math.max(steps(BURN_WINDOWS['1h']), steps(BURN_WINDOWS['6h'])) : longSteps,
    longSteps,
  };
}

/** The newest step of the weights at or before `at`. */
export const lastStep = (w: BudgetWeights, at: number) =>
  Math.min(stepsEnd(w) - 1, Math.floor((at - w.phase) / w.stepMs));

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
  const all = stepWeights(weightsShape(series.start, series.stepMs, windowMs), series.bad, series.total, Float64Array);
  // Compacted as `sloe run` keeps them (every step is at hand): the same figures whichever computes them.
  let { weights } = compacted(all, windowMs, lastStep(all, at));
  const ranOut = ranOutBlock(weights, objective, windowMs, at);
  if (ranOut !== undefined) {
    const { bad, total } = blockValues(all, ranOut);
    weights = withRanOut(weights, ranOut, bad, total);
  }
  return budgetOfWeights(weights, objective, windowMs, at, basis);
}

/**
 * Computes the budget of the window ending at `at` from weights compacted for it (compacted(), withEdge(), and
 * withRanOut() for ranOutBlock()): the window's sums and burn rates are those of every step; the time the budget ran
 * out is to the step within the newest 3 days and the window's first block, else the last step of the block it ran
 * out in (and that of a block within the newest 3 days whose steps ranOutBlock() asked for and were not given).
 *
 * `before` is what was computed last: weights, and the budget computed from them. When they are these same weights
 * (the same object: weights are never changed in place) and that budget is of the same objective and window, with
 * the same last step, its figures are this one's, and only its times move to `at`.
 */
export function budgetOfWeights(
  weights: BudgetWeights,
  objective: number,
  windowMs: number,
  at: number,
  basis: BudgetBasis,
  before?: { budget?: Budget; weights: BudgetWeights },
): Budget {
  const { phase, stepMs } = weights;
  const allowed = errorBudget(objective);
  const last = lastStep(weights, at);
  const same = before?.budget;
  if (
    same &&
    before.weights === weights &&
    same.objective === objective &&
    same.windowMs === windowMs &&
    same.basis === basis &&
    lastStep(weights, same.at) === last
  ) {
    const { remaining } = same.budget;
    const exhaustedAt = exhaustion(remaining, windowMs, same.burnRates['6h'], same.exhaustedAt, at);
    return { ...same, at, exhaustedAt, burnDown: burnDownLater(weights, allowed, windowMs, at) };
  }
  const spans = spansOf(weights, last);
  const w = windowSums(spans, last, Math.round(windowMs / stepMs));
  const errorRatio = w.total > 0 ? w.bad / w.total : NaN;
  const sli = 1 - errorRatio;
  const spent = errorRatio / allowed;
  const remaining = 1 - spent;
  const burnRates = Object.fromEntries(
    Object.entries(BURN_WINDOWS).map(([name, ms]) => {
      const b = windowSums(spans, last, Math.round(ms / stepMs));
      return [name, b.total > 0 ? burnRate(b.bad / b.total, objective) : NaN];
    }),
  ) as Record<BurnWindow, number>;

  const ranOut = ranOutSpan(weights, spans, windowMs, last, allowed);
  const ranOutAt = ranOut && phase + ranOut.end * stepMs;
  return {
    basis,
    at,
    windowMs,
    objective,
    sli,
    budget: { total: allowed, spent, remaining },
    burnRates,
    timeLeftMs: lasting(remaining, windowMs, burnRates['1h']),
    exhaustedAt: exhaustion(remaining, windowMs, burnRates['6h'], ranOutAt, at),
    burnDown: burnDownLater(weights, allowed, windowMs, at),
  };
}

/** How long the `remaining` share of a window's budget lasts at a burn rate; null when nothing burns or is left. */
const lasting = (remaining: number, windowMs: number, burn: number) =>
  remaining > 0 && burn > 0 && Number.isFinite(burn) ? (remaining * windowMs) / burn : null;

/** When the budget runs out at the 6h burn rate, or when it ran out (`ranOutAt`, once overspent); null when neither. */
function exhaustion(remaining: number, windowMs: number, burn6h: number, ranOutAt: number | null, at: number) {
  if (Number.isNaN(remaining)) return null;
  if (remaining <= 0) return ranOutAt;
  const at6h = lasting(remaining, windowMs, burn6h);
  return at6h === null ? null : at + at6h;
}

/**
 * When the budget of the window ending at step `last` ran out: the end of the first span after which the remaining
 * share of the window's allowance was 0 or less (a step, or a block's last step), or null. A block between the first
 * block of the 3d burn window and the per-step part is told to the step, as when every step of the last 3 days was
 * kept: when the peak of its running sum says that the budget ran out inside it, `block` is its first step (and
 * `end` its last, as long as its steps are not kept).
 */
function ranOutSpan(weights: BudgetWeights, spans: Spans, windowMs: number, last: number, allowed: number) {
  const w = windowSums(spans, last, Math.round(windowMs / weights.stepMs));
  const allowance = allowed * w.total;
  if (!(allowance > 0)) return null;
  const out = (bad: number) => 1 - (bad - w.before) / allowance <= 1e-12;
  const { longFrom } = layout(weights, windowMs, last);
  for (let u = 0; u < spans.count; u++) {
    const start = spans.starts[u]!;
    const end = start + spans.steps[u]! - 1;
    if (end < w.first) continue;
    if (end > last) break;
    const peak = spans.steps[u]! > 1 && start > longFrom ? peakOf(weights, start / weights.blockSteps) : undefined;
    if (peak !== undefined && out(spans.bad[u]! + peak)) return { end, block: start };
    if (out(spans.bad[u + 1]!)) return { end };
  }
  return null;
}

/**
 * The first step of the block the budget of the window ending at `at` ran out in, when that is to be told to the step
 * and the weights do not keep its steps: read them and pass them to withRanOut() before computing the budget. Only
 * while the budget is spent (otherwise when it ran out is not told).
 */
export function ranOutBlock(weights: BudgetWeights, objective: number, windowMs: number, at: number) {
  const allowed = errorBudget(objective);
  const last = lastStep(weights, at);
  const spans = spansOf(weights, last);
  const w = windowSums(spans, last, Math.round(windowMs / weights.stepMs));
  if (!(w.total > 0) || !(1 - w.bad / w.total / allowed <= 0)) return undefined;
  return ranOutSpan(weights, spans, windowMs, last, allowed)?.block;
}

/**
 * The sums of the window of `steps` steps ending at step `last`, and the running sum of `bad` before its first step
 * (spans' bounds: 0 before the first span, the whole after the last).
 */
function windowSums(spans: Spans, last: number, steps: number) {
  const first = last + 1 - steps;
  const before = sumBefore(spans, spans.bad, first);
  return {
    first,
    before,
    bad: sumBefore(spans, spans.bad, last + 1) - before,
    total: sumBefore(spans, spans.total, last + 1) - sumBefore(spans, spans.total, first),
  };
}

/**
 * A budget's burn-down, drawn when asked for. Its own function, so that a budget holds only what the burn-down is
 * computed from (not the spans of the budget's computation). The weights are never changed once made (withFresh and
 * compacted make new arrays): a burn-down drawn after later refreshes is that of the budget's moment.
 */
const burnDownLater = (weights: BudgetWeights, allowed: number, windowMs: number, at: number) => () =>
  burnDownOf(weights, allowed, windowMs, at);

/** The burn-down of the window ending at `at`: the share of the window's allowance left after each of its points. */
function burnDownOf(weights: BudgetWeights, allowed: number, windowMs: number, at: number): BurnDown {
  const { phase, stepMs, blockSteps } = weights;
  const last = lastStep(weights, at);
  const spans = spansOf(weights, last);
  const w = windowSums(spans, last, Math.round(windowMs / stepMs));
  // The allowance is allowed × all events of the window.
  const allowance = allowed * w.total;
  const left = (bad: number) => (allowance > 0 ? 1 - (bad - w.before) / allowance : NaN);
  // Its points: after the window's first step, after each block's last step, after the window's last step.
  const steps: number[] = [];
  if (last >= w.first) steps.push(w.first);
  for (let i = w.first + blockSteps - 1 - mod(w.first, blockSteps); i < last; i += blockSteps)
    if (i > w.first) steps.push(i);
  if (last > w.first) steps.push(last);
  const points = new Float64Array(2 * steps.length);
  const burnDown = { times: points.subarray(0, steps.length), remaining: points.subarray(steps.length) };
  steps.forEach((i, k) => {
    burnDown.times[k] = phase + i * stepMs;
    burnDown.remaining[k] = left(sumBefore(spans, spans.bad, i + 1));
  });
  return burnDown;
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
