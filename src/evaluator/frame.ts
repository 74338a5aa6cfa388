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
import { type RateGrid, type RatioStatus, ratioStatus } from './windows.js';

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
): SloFrame {
  if (values.length === 0) return { status: 'nodata', message: 'the query returned no data' };
  const over = tooMany(slo, values.length);
  if (over) return over;
  const byKey = new Map((baselines ?? []).map((b) => [labelsKey(b.labels), b.value]));
  const shared = baselines?.length === 1 && Object.keys(baselines[0]!.labels).length === 0 ? baselines[0]!.value : undefined;
  const instances = values.map(({ labels, value }): InstanceResult => {
    const baseline = slo.baseline === undefined ? undefined : (byKey.get(labelsKey(labels)) ?? shared ?? NaN);
    const base = { labels, value, ...(baseline !== undefined ? { baseline } : {}), severity: slo.severity };
    if (Number.isNaN(value)) return { ...base, state: 'nodata', message: 'the query returned NaN (no traffic?)' };
    if (baseline !== undefined && Number.isNaN(baseline)) return { ...base, state: 'nodata', message: 'the baseline query returned no data' };
    const breach = holds(slo.when, value, baseline);
    const objective = slo.objective ? ` (objective ${slo.objective.text})` : '';
    const message =
      slo.when.kind === 'change'
        ? `${fmt(value)} against baseline ${fmt(baseline!)}: ${breach ? '' : 'not '}${slo.when.text}${objective}`
        : breach
          ? `${fmt(value)} ${slo.when.text.startsWith('not ') ? `is ${slo.when.text}` : slo.when.text}${objective}`
          : `${fmt(value)}, alert when ${slo.when.text}${objective}`;
    return { ...base, state: breach ? 'breach' : 'ok', message };
  });
  return { status: 'data', instances };
}

/** Judges a ratio SLO at grid point `i` of each instance's grid. */
export function ratioFrame(
  slo: RatioSlo,
  grids: ReadonlyArray<{ labels: Labels; grid: RateGrid }>,
  at: number,
  longestMs: number,
): SloFrame {
  const results: InstanceResult[] = [];
  for (const { labels, grid } of grids) {
    const i = grid.index(at);
    if (i < 0 || i >= grid.length) continue;
    const status = ratioStatus(slo, grid, i, longestMs);
    if (status.noData) continue;
    const firing = status.tiers.filter((t) => t.firing);
    const worst = firing.find((t) => t.severity === 'page') ?? firing[0];
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
export function observe(frame: SloFrame, known: ReadonlyArray<Labels>): Array<{ labels: Labels; obs: Observation }> {
  if (frame.status === 'error') return [{ labels: SLO_LEVEL, obs: { kind: 'error', message: frame.message } }];
  if (frame.status === 'nodata') {
    const targets = known.length > 0 ? known : [SLO_LEVEL];
    return targets.map((labels) => ({ labels, obs: { kind: 'nodata', message: frame.message } }));
  }
  const out: Array<{ labels: Labels; obs: Observation }> = frame.instances.map((r) => ({
    labels: r.labels,
    obs:
      r.state === 'nodata'
        ? { kind: 'nodata', message: r.message }
        : { kind: 'value', breach: r.state === 'breach', severity: r.severity, message: r.message },
  }));
  const present = new Set(frame.instances.map((r) => labelsKey(r.labels)));
  for (const labels of known) if (!present.has(labelsKey(labels))) out.push({ labels, obs: { kind: 'gone' } });
  return out;
}
