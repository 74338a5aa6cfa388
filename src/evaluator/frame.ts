/**
 * A frame is what one evaluation of one SLO saw at one moment: a result per instance, or no data, or too many
 * series. Frames are built from query results (instant or range) by the same functions, so `eval`, `backtest` and
 * `run` judge the same numbers the same way.
 */
import { holds } from '../rules/condition.js';
import { formatDuration } from '../rules/duration.js';
import type { RatioSlo, Severity, Slo, ThresholdSlo } from '../rules/model.js';
import { type Labels, labelsKey } from './labels.js';
import type { Observation } from './state.js';
import { type RateGrid, type RatioStatus, type Windows, ratioStatus } from './windows.js';

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
  tiers?: RatioStatus['tiers'];
}

/** Whether healthy instances get a message too (`eval` shows them), or only the ones that need attention. */
export type Detail = 'all' | 'problems';

export type SloFrame =
  | { status: 'data'; instances: InstanceResult[] }
  | { status: 'nodata'; message: string }
  | { status: 'error'; message: string };

/** Formats a number for people: up to 4 significant digits. */
export function fmt(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  return String(Number(n.toPrecision(4)));
}

function tooMany(slo: Slo, n: number): SloFrame | undefined {
  return n > slo.maxSeries
    ? { status: 'error', message: `the query returned ${n} series, more than maxSeries ${slo.maxSeries}: check its grouping labels` }
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
  const byKey = baselines && baselines.length > 1 ? new Map(baselines.map((b) => [labelsKey(b.labels), b.value])) : undefined;
  const only = baselines?.length === 1 ? baselines[0]! : undefined;
  const shared = only && Object.keys(only.labels).length === 0 ? only.value : undefined;
  const baselineOf = (labels: Labels) =>
    byKey?.get(labelsKey(labels)) ?? (only && labelsKey(only.labels) === labelsKey(labels) ? only.value : shared) ?? NaN;
  const instances = values.map(({ labels, value }): InstanceResult => {
    const baseline = slo.baseline === undefined ? undefined : baselineOf(labels);
    const result = (state: InstanceState, message: string): InstanceResult =>
      baseline === undefined
        ? { labels, value, state, severity: slo.severity, message }
        : { labels, value, baseline, state, severity: slo.severity, message };
    if (Number.isNaN(value)) return result('nodata', 'the query returned NaN (no traffic?)');
    if (baseline !== undefined && Number.isNaN(baseline)) return result('nodata', 'the baseline query returned no data');
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

/** Judges a ratio SLO at time `at` on each instance's grid. */
export function ratioFrame(
  slo: RatioSlo,
  grids: ReadonlyArray<{ labels: Labels; grid: RateGrid }>,
  at: number,
  longestMs: number,
  detail: Detail = 'all',
): SloFrame {
  const instances: Array<{ labels: Labels; windows: Windows }> = [];
  let resMs = 0;
  for (const { labels, grid } of grids) {
    const i = grid.index(at);
    if (i < 0 || i >= grid.length) continue;
    instances.push({ labels, windows: grid.windowsAt(i) });
    resMs = grid.resMs;
  }
  return ratioWindowsFrame(slo, instances, resMs, longestMs, detail);
}

/** Judges a ratio SLO on each instance's windows ending at one moment. */
export function ratioWindowsFrame(
  slo: RatioSlo,
  instances: ReadonlyArray<{ labels: Labels; windows: Windows }>,
  resMs: number,
  longestMs: number,
  detail: Detail = 'all',
): SloFrame {
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
      results.push({ ...base, state: 'ok', message: `${fmt(status.sli * 100)}% good over ${window}, no burn-rate tier firing (${objective})` });
    }
  }
  if (results.length === 0) return { status: 'nodata', message: 'the ratio queries returned no traffic' };
  return tooMany(slo, results.length) ?? { status: 'data', instances: results };
}

/** The SLO-level instance, used when a frame has no per-series results. */
export const SLO_LEVEL: Labels = {};

/**
 * Turns a frame into one observation per instance. `known` are the label sets of instances that have state: those
 * missing from a frame with data went away; a frame without data is missing data for all of them (or for the SLO as
 * a whole when none are known).
 */
export function observe(frame: SloFrame, known: ReadonlyMap<string, Labels>): Array<{ key: string; labels: Labels; obs: Observation }> {
  if (frame.status === 'error') return [{ key: labelsKey(SLO_LEVEL), labels: SLO_LEVEL, obs: { kind: 'error', message: frame.message } }];
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
