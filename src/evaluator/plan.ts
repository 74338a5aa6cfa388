/**
 * What evaluating a ratio SLO reads, pure: its queries and its burn-rate windows, taken from the SLO's tiers (the
 * rules' data), and the span of base rates an evaluation or a replay needs. The first stage of the ratio pipeline
 * (plan → fetch → frame). Every window of an SLO is a multiple of its base resolution (the gcd of its tier windows),
 * so a window ending at t is the sum of the base rates at t, t − res, t − 2·res, …: one range query per part serves
 * every tier, for `eval`, `backtest` and `run` alike.
 */
import { formatDuration } from '../rules/duration.js';
import type { RatioSlo } from '../rules/model.js';
import { gcd } from '../util/async.js';
import { fillWindow } from '../rules/window.js';

/** A ratio SLI's queries with `$window` filled in. */
export interface RatioQueries {
  bad?: string;
  good?: string;
  total: string;
}

/** What to query for a ratio SLO. */
export interface RatioPlan extends RatioQueries {
  /** Base resolution: the range of each base rate, and the spacing of the points that make up a window. */
  resMs: number;
  /** The longest window, which sets how much history one evaluation needs. */
  longestMs: number;
  /** The distinct windows of the SLO's tiers, shortest first. */
  windows: readonly number[];
}

/** A range of base rates to read: from `start` to `end` (unix ms) every `stepMs`. */
export interface Span {
  start: number;
  end: number;
  stepMs: number;
}

/** A ratio SLI's queries over windows of `windowMs`. */
export function ratioQueries(ratio: RatioSlo['ratio'], windowMs: number): RatioQueries {
  const window = formatDuration(windowMs);
  const fill = (q: string) => fillWindow(q, window);
  return {
    ...(ratio.bad !== undefined ? { bad: fill(ratio.bad) } : {}),
    ...(ratio.good !== undefined ? { good: fill(ratio.good) } : {}),
    total: fill(ratio.total),
  };
}

/** Plans by SLO: an SLO object is never changed once loaded (a reload makes new ones), so its plan is made once. */
const plans = new WeakMap<RatioSlo, RatioPlan>();

/** The plan of a ratio SLO (the same object on every call for the same SLO: the engine asks on every tick). */
export function ratioPlan(slo: RatioSlo): RatioPlan {
  let plan = plans.get(slo);
  if (!plan) plans.set(slo, (plan = makeRatioPlan(slo)));
  return plan;
}

function makeRatioPlan(slo: RatioSlo): RatioPlan {
  const windows = [...new Set(slo.tiers.flatMap((t) => [t.longMs, t.shortMs]))].sort((a, b) => a - b);
  const resMs = windows.reduce((a, b) => gcd(a, b));
  return { resMs, longestMs: windows[windows.length - 1]!, windows, ...ratioQueries(slo.ratio, resMs) };
}

/** The base rates that windows up to `lengthMs` (by default every window) ending at `at` are made of. */
export function spanAt(plan: RatioPlan, at: number, lengthMs = plan.longestMs): Span {
  return { start: at - lengthMs + plan.resMs, end: at, stepMs: plan.resMs };
}

/**
 * The base rates a replay of [from, to] every `stepMs` reads: every window ending at each step, on a grid that
 * divides both the replay's step and the base resolution.
 */
export function spanOver(plan: RatioPlan, from: number, to: number, stepMs: number): Span {
  return { start: from - plan.longestMs + plan.resMs, end: to, stepMs: gcd(stepMs, plan.resMs) };
}
