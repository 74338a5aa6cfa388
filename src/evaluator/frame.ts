/**
 * The frame stage of an evaluation (plan → fetch → frame), pure: a frame is what one evaluation of one SLO saw at
 * one moment: a result per instance, or no data, or too many series. Frames are judged from fetched samples (instant
 * values, or the windows of base rates ending at that moment) by the same functions, so `eval`, `backtest` and `run`
 * judge the same numbers the same way; the burn-rate maths of ratio SLOs is here.
 */
import { burnRate } from '../rules/burn-rate.js';
import { holds } from '../rules/condition.js';
import { formatDuration } from '../rules/duration.js';
import type { RatioSlo, Severity, Slo, ThresholdSlo } from '../rules/model.js';
import { type Labels, labelsKey } from './labels.js';
import type { RatioPlan } from './plan.js';
import type { Observation } from './state.js';
import type { InstanceGrid, InstanceWindows, RateGrid, Windows } from './windows.js';

export type InstanceState = 'ok' | 'breach' | 'nodata';

export interface InstanceResult {
  labels: Labels;
  /** The SLI value (a ratio SLO: the share of good events over its longest window). NaN when unknown. */
  value: number;
  baseline?: number;
  state: InstanceState;
  severity: Severity;
  /** One sentence on what was seen, for people. */
  message: string;
  /** Ratio SLOs: each burn-rate tier. */
  tiers?: TierStatus[];
}

/** Whether healthy instances get a message too (`eval` shows them), or only the ones that need attention. */
export type Detail = 'all' | 'problems';

export type SloFrame =
  | { status: 'data'; instances: InstanceResult[] }
  | { status: 'nodata'; message: string }
  | { status: 'error'; message: string };

/** A function giving the frame of an SLO at each step time (a replay's history). */
export interface FrameSource {
  (at: number): SloFrame;
  /**
   * When it can be told without making the frame that the frame at `at` has data and every instance in it is ok: the
   * instances' label sets (the same array each time for the same instances); otherwise undefined (the frame says). A
   * replay passes over such a step without the frame when every instance was ok before too: most steps of a month.
   */
  calm?(at: number): readonly Labels[] | undefined;
}

/** Formats a number for people: up to 4 significant digits. */
export function fmt(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  return String(Number(n.toPrecision(4)));
}

function tooMany(slo: Slo, n: number): SloFrame | undefined {
  return n > slo.maxSeries
    ? {
        status: 'error',
        message: `the query returned ${n} series, more than maxSeries ${slo.maxSeries}: check its grouping labels`,
      }
    : undefined;
}

/** Judges the values (and baselines) of a threshold SLO. */
export function thresholdFrame(
  slo: ThresholdSlo,
  values: ReadonlyArray<{ labels: Labels; value: number }>,
  baselines?: ReadonlyArray<{ labels: Labels; value: number }>,
  detail: Detail = 'all',
): SloFrame {
  if (values.length === 0) return { status: 'nodata', message: 'the query returned no data' };
  const over = tooMany(slo, values.length);
  if (over) return over;
  const byKey =
    baselines && baselines.length > 1 ? new Map(baselines.map((b) => [labelsKey(b.labels), b.value])) : undefined;
  const only = baselines?.length === 1 ? baselines[0]! : undefined;
  const shared = only && Object.keys(only.labels).length === 0 ? only.value : undefined;
  const baselineOf = (labels: Labels) =>
    byKey?.get(labelsKey(labels)) ??
    (only && labelsKey(only.labels) === labelsKey(labels) ? only.value : shared) ??
    NaN;
  const instances = values.map(({ labels, value }): InstanceResult => {
    const baseline = slo.baseline === undefined ? undefined : baselineOf(labels);
    const result = (state: InstanceState, message: string): InstanceResult =>
      baseline === undefined
        ? { labels, value, state, severity: slo.severity, message }
        : { labels, value, baseline, state, severity: slo.severity, message };
    if (Number.isNaN(value)) return result('nodata', 'the query returned NaN (no traffic?)');
    if (baseline !== undefined && Number.isNaN(baseline))
      return result('nodata', 'the baseline query returned no data');
    const breach = holds(slo.when, value, baseline);
    if (!breach && detail === 'problems') return result('ok', '');
    const objective = slo.objective ? ` (objective ${slo.objective.text})` : '';
    const message =
      slo.when.kind === 'change'
        ? `${fmt(value)} against baseline ${fmt(baseline!)}: ${breach ? '' : 'not '}${slo.when.text}${objective}`
        : breach
          ? `${fmt(value)} ${slo.when.text.startsWith('not ') ? `is ${slo.when.text}` : slo.when.text}${objective}`
          : `${fmt(value)}, alert when ${slo.when.text}${objective}`;
    return result(breach ? 'breach' : 'ok', message);
  });
  return { status: 'data', instances };
}

/**
 * `calm` of a threshold SLO without a baseline, from every series' value at one moment (`labels[k]`'s in
 * `values[k]`): the labels when each value is ok as thresholdFrame judges it, else undefined.
 */
export function thresholdCalm(
  slo: ThresholdSlo,
  labels: readonly Labels[],
  values: ArrayLike<number>,
): readonly Labels[] | undefined {
  if (slo.baseline !== undefined || labels.length === 0 || tooMany(slo, labels.length)) return undefined;
  for (let k = 0; k < values.length; k++) {
    const value = values[k]!;
    if (Number.isNaN(value) || holds(slo.when, value, undefined)) return undefined;
  }
  return labels;
}

/** How one burn-rate tier stands at one moment. */
export interface TierStatus {
  severity: Severity;
  longMs: number;
  shortMs: number;
  factor: number;
  /** Burn rates (rules/burn-rate.ts: error ratio ÷ error budget); NaN without traffic. */
  longBurn: number;
  shortBurn: number;
  /** Events in the long window. */
  events: number;
  firing: boolean;
}

interface RatioStatus {
  /** Share of good events over the longest window; NaN without traffic. */
  sli: number;
  tiers: TierStatus[];
  /** True when no window has any traffic data: the SLO has no data. */
  noData: boolean;
}

/** The burn rate of a window's sums of base rates; NaN without traffic. */
function burnOf(slo: RatioSlo, bad: number, total: number): number {
  return total > 0 ? burnRate(bad / total, slo.objective) : NaN;
}

/** Whether a tier's long window fires: burning faster than the tier's factor, with enough events. */
function fires(slo: RatioSlo, tier: RatioSlo['tiers'][number], longBurn: number, events: number): boolean {
  return longBurn > tier.factor && events >= slo.minEvents;
}

/**
 * Evaluates the tiers of a ratio SLO on the windows ending at one moment (base rates at resolution `resMs`).
 * Without `detail`, only firing tiers are listed (what alerting needs); with it, every tier (what `eval` shows).
 */
function ratioStatus(slo: RatioSlo, windows: Windows, resMs: number, longestMs: number, detail = true): RatioStatus {
  const resSeconds = resMs / 1000;
  const burn = (w: { bad: number; total: number }) => burnOf(slo, w.bad, w.total);
  const longest = windows(longestMs);
  if (longest.points === 0) return { sli: NaN, tiers: [], noData: true };
  const tiers: TierStatus[] = [];
  for (const tier of slo.tiers) {
    const long = windows(tier.longMs);
    const longBurn = burn(long);
    const events = long.total * resSeconds;
    const longFires = fires(slo, tier, longBurn, events);
    // A replay judges every step: without detail, a tier whose long window does not fire needs no short window.
    if (!longFires && !detail) continue;
    const shortBurn = burn(windows(tier.shortMs));
    const firing = longFires && shortBurn > tier.factor;
    if (!firing && !detail) continue;
    tiers.push({
      severity: tier.severity,
      longMs: tier.longMs,
      shortMs: tier.shortMs,
      factor: tier.factor,
      longBurn,
      shortBurn,
      events,
      firing,
    });
  }
  return { sli: longest.total > 0 ? 1 - longest.bad / longest.total : NaN, tiers, noData: false };
}

/** Judges a ratio SLO on each instance's windows ending at one moment. */
export function ratioFrame(
  slo: RatioSlo,
  plan: Pick<RatioPlan, 'resMs' | 'longestMs'>,
  instances: readonly InstanceWindows[],
  detail: Detail = 'all',
): SloFrame {
  const { resMs, longestMs } = plan;
  const results: InstanceResult[] = [];
  for (const { labels, windows } of instances) {
    const status = ratioStatus(slo, windows, resMs, longestMs, detail === 'all');
    if (status.noData) continue;
    const firing = status.tiers.filter((t) => t.firing);
    const worst = firing.find((t) => t.severity === 'page') ?? firing[0];
    if (!worst && detail === 'problems') {
      results.push({ labels, value: status.sli, state: 'ok', severity: 'ticket', message: '' });
      continue;
    }
    const base = { labels, value: status.sli, severity: worst?.severity ?? 'ticket', tiers: status.tiers };
    const window = formatDuration(longestMs);
    const objective = `objective ${fmt(slo.objective * 100)}%`;
    if (worst) {
      results.push({
        ...base,
        state: 'breach',
        message: `error budget burning ${fmt(worst.longBurn)}× over ${formatDuration(worst.longMs)} and ${fmt(worst.shortBurn)}× over ${formatDuration(worst.shortMs)}, above ${fmt(worst.factor)}× (${objective}, ${fmt(status.sli * 100)}% good over ${window})`,
      });
    } else {
      results.push({
        ...base,
        state: 'ok',
        message: `${fmt(status.sli * 100)}% good over ${window}, no burn-rate tier firing (${objective})`,
      });
    }
  }
  if (results.length === 0) return { status: 'nodata', message: 'the ratio queries returned no traffic' };
  return tooMany(slo, results.length) ?? { status: 'data', instances: results };
}

/**
 * `calm` of a ratio SLO over its instances' base rates: the instances' labels at a moment every grid covers where
 * each has traffic and no tier fires (ratioStatus's rules, burnOf and fires, as ratioFrame judges), else undefined.
 */
export function ratioCalm(
  slo: RatioSlo,
  plan: Pick<RatioPlan, 'resMs' | 'longestMs'>,
  grids: readonly InstanceGrid[],
): (at: number) => readonly Labels[] | undefined {
  const labels = grids.map((g) => g.labels);
  if (labels.length === 0 || tooMany(slo, labels.length)) return () => undefined;
  const resSeconds = plan.resMs / 1000;
  // ratioStatus without detail, read from the grid directly (no object per window): no data when the longest window
  // has no point, and a tier fires when its long window fires and its short window burns faster than its factor.
  const ok = (grid: RateGrid, i: number) => {
    if (grid.points(i, plan.longestMs) === 0) return false;
    for (const tier of slo.tiers) {
      const total = grid.total(i, tier.longMs);
      if (!fires(slo, tier, burnOf(slo, grid.bad(i, tier.longMs), total), total * resSeconds)) continue;
      if (burnOf(slo, grid.bad(i, tier.shortMs), grid.total(i, tier.shortMs)) > tier.factor) return false;
    }
    return true;
  };
  return (at) => {
    for (const { grid } of grids) {
      const i = grid.index(at);
      if (i < 0 || i >= grid.length || !ok(grid, i)) return undefined;
    }
    return labels;
  };
}

/** The SLO-level instance, used when a frame has no per-series results. */
export const SLO_LEVEL: Labels = {};

/**
 * Turns a frame into one observation per instance. `known` are the label sets of instances that have state: those
 * missing from a frame with data went away; a frame without data is missing data for all of them (or for the SLO as
 * a whole when none are known).
 */
export function observe(
  frame: SloFrame,
  known: ReadonlyMap<string, Labels>,
): Array<{ key: string; labels: Labels; obs: Observation }> {
  if (frame.status === 'error')
    return [{ key: labelsKey(SLO_LEVEL), labels: SLO_LEVEL, obs: { kind: 'error', message: frame.message } }];
  if (frame.status === 'nodata') {
    const obs: Observation = { kind: 'nodata', message: frame.message };
    if (known.size === 0) return [{ key: labelsKey(SLO_LEVEL), labels: SLO_LEVEL, obs }];
    return [...known].map(([key, labels]) => ({ key, labels, obs }));
  }
  const out = frame.instances.map((r) => ({
    key: labelsKey(r.labels),
    labels: r.labels,
    obs: (r.state === 'nodata'
      ? { kind: 'nodata', message: r.message }
      : { kind: 'value', breach: r.state === 'breach', severity: r.severity, message: r.message }) as Observation,
  }));
  if (known.size > out.length || out.some((o) => !known.has(o.key))) {
    const present = new Set(out.map((o) => o.key));
    for (const [key, labels] of known) if (!present.has(key)) out.push({ key, labels, obs: { kind: 'gone' } });
  }
  return out;
}
