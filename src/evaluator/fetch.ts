/**
 * The fetch stage of an evaluation (plan → fetch → frame): the one place that asks the PrometheusPort, and turns
 * its answers into samples the frame stage judges — a threshold SLO's values, a ratio SLO's base rates on a grid.
 * A failed query becomes an EvaluationError naming the SLO and the query. Nothing here judges a value.
 */
import type { ThresholdSlo } from '../rules/model.js';
import { redactUrls } from '../util/redact.js';
import { type Labels, labelsKey } from './labels.js';
import { type RatioPlan, type Span, spanAt } from './plan.js';
import type { InstantSample, PrometheusPort, RangeSeries } from './prometheus.js';
import { type InstanceGrid, type InstanceWindows, RateGrid, windowsAt } from './windows.js';

/** An SLO could not be evaluated; names the SLO and the query, and keeps the cause. */
export class EvaluationError extends Error {
  constructor(
    readonly sloId: string,
    readonly query: string,
    cause: unknown,
  ) {
    const oneLine = query.replace(/\s+/g, ' ').trim();
    super(
      redactUrls(
        `could not evaluate slo "${sloId}": ${cause instanceof Error ? cause.message : String(cause)} (query: ${oneLine})`,
      ),
      { cause },
    );
    this.name = 'EvaluationError';
  }
}

async function guarded<T>(sloId: string, query: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw new EvaluationError(sloId, query, e);
  }
}

/**
 * A rate of a ratio SLO as read from an answer: ±Inf (a hand-written query dividing by zero) counts as a missing
 * point, like NaN. Summed, an infinity would make every window holding it infinite (an SLI of 1, a budget untouched
 * by the window's errors) and the differences of running sums NaN. A threshold SLO's +Inf is a value (a breach).
 */
export const rateValue = (v: number): number => (v === Infinity || v === -Infinity ? NaN : v);

/** A range query of an SLO; throws EvaluationError when Prometheus fails. */
export function fetchRange(port: PrometheusPort, sloId: string, query: string, span: Span): Promise<RangeSeries[]> {
  return guarded(sloId, query, () => port.range(query, span.start, span.end, span.stepMs));
}

/** What a threshold SLO's query (and baseline query) returned at one moment. */
export interface ThresholdSamples {
  values: InstantSample[];
  baselines?: InstantSample[];
}

/** A threshold SLO's values at `at`. */
export async function fetchThreshold(port: PrometheusPort, slo: ThresholdSlo, at: number): Promise<ThresholdSamples> {
  const [values, baselines] = await Promise.all([
    guarded(slo.id, slo.query, () => port.instant(slo.query, at)),
    slo.baseline !== undefined ? guarded(slo.id, slo.baseline, () => port.instant(slo.baseline!, at)) : undefined,
  ]);
  return baselines ? { values, baselines } : { values };
}

/** A threshold SLO's values over [from, to] every `stepMs`: the samples present at each step time. */
export interface ThresholdHistory {
  valuesAt(at: number): InstantSample[];
  baselinesAt?(at: number): InstantSample[];
  /**
   * The values at `at` when every series has one there, in the order of `labels` (the same array each time); the
   * values are valid until the next call. Undefined when some series has no value then.
   */
  completeAt(at: number): { labels: readonly Labels[]; values: Float64Array } | undefined;
}

/** Fetches a threshold SLO's values over [from, to] every `stepMs`. */
export async function fetchThresholdHistory(
  port: PrometheusPort,
  slo: ThresholdSlo,
  from: number,
  to: number,
  stepMs: number,
): Promise<ThresholdHistory> {
  const span = { start: from, end: to, stepMs };
  const [values, baselines] = await Promise.all([
    fetchRange(port, slo.id, slo.query, span),
    slo.baseline !== undefined ? fetchRange(port, slo.id, slo.baseline, span) : undefined,
  ]);
  const steps = new StepColumns(values, span);
  const history: ThresholdHistory = { valuesAt: (t) => steps.at(t), completeAt: (t) => steps.completeAt(t) };
  if (baselines) {
    const baselineSteps = new StepColumns(baselines, span);
    history.baselinesAt = (t) => baselineSteps.at(t);
  }
  return history;
}

/** Range series indexed by step, so that the samples present at a step time are found directly. */
class StepColumns {
  private readonly n: number;
  private readonly columns: Array<{ labels: Labels; values: Float64Array; present: Uint8Array }>;
  /** How many series have a value at each step. */
  private readonly count: Uint16Array | Uint32Array;
  private readonly labels: readonly Labels[];
  private readonly row: Float64Array;

  constructor(
    series: readonly RangeSeries[],
    private readonly span: Span,
  ) {
    const { start, end, stepMs } = span;
    const n = (this.n = Math.floor((end - start) / stepMs) + 1);
    this.count = series.length < 65_536 ? new Uint16Array(n) : new Uint32Array(n);
    this.columns = series.map((s) => {
      const values = new Float64Array(n).fill(NaN);
      const present = new Uint8Array(n);
      for (let k = 0; k < s.times.length; k++) {
        const i = Math.round((s.times[k]! - start) / stepMs);
        if (i < 0 || i >= n) continue;
        values[i] = s.values[k]!;
        if (present[i] === 0) {
          present[i] = 1;
          this.count[i]!++;
        }
      }
      return { labels: s.labels, values, present };
    });
    this.labels = this.columns.map((c) => c.labels);
    this.row = new Float64Array(series.length);
  }

  private index(t: number): number {
    return Math.round((t - this.span.start) / this.span.stepMs);
  }

  at(t: number): InstantSample[] {
    const i = this.index(t);
    return this.columns.filter((c) => c.present[i] === 1).map((c) => ({ labels: c.labels, value: c.values[i]! }));
  }

  completeAt(t: number): { labels: readonly Labels[]; values: Float64Array } | undefined {
    const i = this.index(t);
    if (i < 0 || i >= this.n || this.count[i] !== this.columns.length) return undefined;
    for (let k = 0; k < this.columns.length; k++) this.row[k] = this.columns[k]!.values[i]!;
    return { labels: this.labels, values: this.row };
  }
}

/**
 * Fetches the base rates of a ratio SLO over `span` (its step divides the base resolution) and builds one RateGrid
 * per instance.
 */
export async function fetchRates(
  port: PrometheusPort,
  sloId: string,
  plan: RatioPlan,
  span: Span,
): Promise<InstanceGrid[]> {
  const part = plan.bad ?? plan.good!;
  const [partSeries, totalSeries] = await Promise.all([
    fetchRange(port, sloId, part, span),
    fetchRange(port, sloId, plan.total, span),
  ]);
  const { start, end, stepMs } = span;
  const n = Math.floor((end - start) / stepMs) + 1;
  const toArray = (s: RangeSeries | undefined) => {
    const a = new Float64Array(n).fill(NaN);
    if (!s) return a;
    for (let k = 0; k < s.times.length; k++) {
      const i = Math.round((s.times[k]! - start) / stepMs);
      if (i >= 0 && i < n) a[i] = rateValue(s.values[k]!);
    }
    return a;
  };
  const parts = new Map(partSeries.map((s) => [labelsKey(s.labels), s]));
  return totalSeries.map((t) => {
    const total = toArray(t);
    const other = toArray(parts.get(labelsKey(t.labels)));
    // In place, in a loop: a month of points per instance, where a callback per point shows.
    const bad = other;
    if (plan.bad !== undefined) {
      // No bad series for an instance means no bad events.
      for (let i = 0; i < n; i++) if (Number.isNaN(bad[i]!) && !Number.isNaN(total[i]!)) bad[i] = 0;
    } else {
      for (let i = 0; i < n; i++) {
        const v = total[i]!;
        const good = other[i]!;
        bad[i] = Number.isNaN(v) ? NaN : Math.max(0, v - (Number.isNaN(good) ? 0 : good));
      }
    }
    return { labels: t.labels, grid: new RateGrid(start, stepMs, bad, total, plan.resMs) };
  });
}

/**
 * How the windows of a ratio SLO ending at one moment are read: all of them from Prometheus (`readAllWindows`, for
 * `eval`), or the long ones from running sums carried on from the base rates since (the engine's LongWindowCache).
 */
export interface WindowReader {
  windowsAt(port: PrometheusPort, sloId: string, plan: RatioPlan, at: number): Promise<InstanceWindows[]>;
}

/** Reads every window from Prometheus: one range query per part over the longest window. */
export const readAllWindows: WindowReader = {
  async windowsAt(port, sloId, plan, at) {
    return windowsAt(await fetchRates(port, sloId, plan, spanAt(plan, at)), at);
  },
};
