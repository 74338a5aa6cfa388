/**
 * Fetches what an SLO's error budget is computed from: for a ratio SLO its bad (or good) and total rates on a grid
 * whose step is also their `$window`, so that consecutive points count consecutive, non-overlapping spans of events;
 * for a threshold SLO its query on the same grid, each point counted as in breach of the objective or not.
 */
import { fetchRange, rateValue } from '../evaluator/fetch.js';
import { ratioQueries, type Span } from '../evaluator/plan.js';
import type { PrometheusPort, RangeSeries } from '../evaluator/prometheus.js';
import { holds } from '../rules/condition.js';
import type { Slo, ThresholdSlo } from '../rules/model.js';
import { BURN_WINDOWS, type Budget, type BudgetSeries, budgetOfWeights, computeBudget, ranOutBlock } from './budget.js';
import type { BudgetWeights } from './weights.js';

/** Share of the window a threshold SLO may spend outside its objective: its time-based objective. */
export const DEFAULT_TIME_OBJECTIVE = 0.99;
/** The window of a threshold SLO, which declares none. */
export const DEFAULT_TIME_WINDOW_MS = 30 * 24 * 3600_000;
/** Most points one budget query asks for (Prometheus refuses more than 11,000 a series). */
const MAX_POINTS = 10_000;
/** Grid steps, each dividing the next and every burn window, so burn windows are whole numbers of steps. */
const STEPS_MS = [60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000];

/** The grid step of a budget over `spanMs`: the finest that keeps a query under MAX_POINTS. */
export function budgetStep(spanMs: number): number {
  return STEPS_MS.find((s) => spanMs / s <= MAX_POINTS) ?? Math.ceil(spanMs / MAX_POINTS / 3_600_000) * 3_600_000;
}

/** The window of an SLO's budget: `override`, else a ratio SLO's own window, else 30d. */
export function budgetWindow(slo: Slo, override?: number): number {
  return override ?? (slo.kind === 'ratio' ? slo.windowMs : DEFAULT_TIME_WINDOW_MS);
}

/**
 * The grid of a budget over `windowMs` (and the longest burn window) as of `at`: points at multiples of the step
 * (absolute times, the same whenever it is asked for), the newest at or before `at`. The budget is that of the last
 * whole step: the span between the newest point and `at` counts from the next point on.
 */
export function budgetGrid(windowMs: number, at: number): Span {
  const spanMs = Math.max(windowMs, BURN_WINDOWS['3d']);
  const stepMs = budgetStep(spanMs);
  const end = Math.floor(at / stepMs) * stepMs;
  return { start: end - (Math.ceil(spanMs / stepMs) - 1) * stepMs, end, stepMs };
}

/**
 * Fetches the weights of an SLO's budget at the points of `span` (a part of a budgetGrid, or all of it): each point
 * depends on the SLO's queries and the step only, never on the rest of the span.
 */
export async function fetchBudgetSeries(port: PrometheusPort, slo: Slo, span: Span): Promise<BudgetSeries> {
  const { start, stepMs } = span;
  const n = (span.end - start) / stepMs + 1;
  const fetch = (query: string) => fetchRange(port, slo.id, query, span);
  if (slo.kind === 'ratio') {
    // The rates over one step each, so that consecutive points count consecutive spans of events.
    const queries = ratioQueries(slo.ratio, stepMs);
    const [parts, totals] = await Promise.all([fetch(queries.bad ?? queries.good!), fetch(queries.total)]);
    // Several series (`sum by (model)`) add up to the SLO as a whole.
    const partSum = sumOnGrid(parts, start, stepMs, n);
    const total = sumOnGrid(totals, start, stepMs, n);
    const bad = slo.ratio.bad !== undefined ? partSum : total.map((t, i) => t - clean(partSum[i]!));
    return { start, stepMs, bad, total };
  }
  const [values, baselines] = await Promise.all([
    fetch(slo.query),
    slo.baseline !== undefined ? fetch(slo.baseline) : undefined,
  ]);
  return timeInBreach(slo, values, baselines, start, stepMs, n);
}

/** What an SLO's budget counts against: its objective and basis. */
const targetOf = (slo: Slo) =>
  slo.kind === 'ratio' ? ([slo.objective, 'events'] as const) : ([DEFAULT_TIME_OBJECTIVE, 'time'] as const);

/**
 * The budget of one SLO from its weights kept compactly (compacted() for this window and `at`); `before`, the weights
 * and budget computed last (budgetOfWeights).
 */
export function budgetOf(
  slo: Slo,
  weights: BudgetWeights,
  windowMs: number,
  at: number,
  before?: { budget?: Budget; weights: BudgetWeights },
): Budget {
  const [objective, basis] = targetOf(slo);
  return budgetOfWeights(weights, objective, windowMs, at, basis, before);
}

/** The block whose steps tell when an SLO's budget ran out, when the weights do not keep them (ranOutBlock()). */
export function ranOutBlockOf(slo: Slo, weights: BudgetWeights, windowMs: number, at: number): number | undefined {
  return ranOutBlock(weights, targetOf(slo)[0], windowMs, at);
}

/** Loads and computes the budget of one SLO at `at`, reading its whole window. */
export async function sloBudget(
  port: PrometheusPort,
  slo: Slo,
  at: number,
  windowOverrideMs?: number,
): Promise<Budget> {
  const windowMs = budgetWindow(slo, windowOverrideMs);
  const [objective, basis] = targetOf(slo);
  return computeBudget(await fetchBudgetSeries(port, slo, budgetGrid(windowMs, at)), objective, windowMs, at, basis);
}

const clean = (x: number) => (Number.isNaN(x) ? 0 : x);

/** The sum of the series at each grid point; NaN where none has a point. */
function sumOnGrid(series: RangeSeries[], start: number, stepMs: number, n: number): number[] {
  const out = new Array<number>(n).fill(NaN);
  for (const s of series) {
    for (let k = 0; k < s.times.length; k++) {
      const i = Math.round((s.times[k]! - start) / stepMs);
      const v = rateValue(s.values[k]!);
      if (i < 0 || i >= n || Number.isNaN(v)) continue;
      out[i] = clean(out[i]!) + v;
    }
  }
  return out;
}

/**
 * A threshold SLO's time in breach: at each grid point with data, 1 of total, and 1 of bad when some series is
 * outside the objective (or, without an objective, meets the breach condition).
 */
function timeInBreach(
  slo: ThresholdSlo,
  values: RangeSeries[],
  baselines: RangeSeries[] | undefined,
  start: number,
  stepMs: number,
  n: number,
): BudgetSeries {
  const bad = new Array<number>(n).fill(NaN);
  const total = new Array<number>(n).fill(NaN);
  const baselineAt = new Map<string, Map<number, number>>();
  const shared = baselines?.length === 1 ? baselines[0] : undefined;
  for (const b of baselines ?? [])
    baselineAt.set(JSON.stringify(b.labels), new Map(Array.from(b.times, (t, k) => [t, b.values[k]!])));
  for (const s of values) {
    const own =
      baselineAt.get(JSON.stringify(s.labels)) ?? (shared ? baselineAt.get(JSON.stringify(shared.labels)) : undefined);
    for (let k = 0; k < s.times.length; k++) {
      const t = s.times[k]!;
      const i = Math.round((t - start) / stepMs);
      const v = s.values[k]!;
      if (i < 0 || i >= n || Number.isNaN(v)) continue;
      const baseline = own?.get(t);
      if (slo.baseline !== undefined && (baseline === undefined || Number.isNaN(baseline))) continue;
      const breach = slo.objective ? !holds(slo.objective, v) : holds(slo.when, v, baseline);
      total[i] = 1;
      bad[i] = Math.max(clean(bad[i]!), breach ? 1 : 0);
    }
  }
  return { start, stepMs, bad, total };
}
