/** Evaluates an SLO once, at one instant, against Prometheus. */
import type { RatioSlo, Slo } from '../rules/model.js';
import { type Labels, labelsKey } from './labels.js';
import type { PrometheusPort, RangeSeries } from './prometheus.js';
import { type Detail, type SloFrame, ratioFrame, thresholdFrame } from './frame.js';
import { RateGrid, ratioPlan } from './windows.js';
import { redactUrls } from '../util/redact.js';

/** An SLO could not be evaluated; names the SLO and the query, and keeps the cause. */
export class EvaluationError extends Error {
  constructor(
    readonly sloId: string,
    readonly query: string,
    cause: unknown,
  ) {
    const oneLine = query.replace(/\s+/g, ' ').trim();
    super(redactUrls(`could not evaluate slo "${sloId}": ${cause instanceof Error ? cause.message : String(cause)} (query: ${oneLine})`), { cause });
    this.name = 'EvaluationError';
  }
}

async function guarded<T>(slo: Slo, query: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw new EvaluationError(slo.id, query, e);
  }
}

/**
 * Evaluates an SLO at `at` (unix ms). Throws EvaluationError when Prometheus fails. With `detail: 'problems'`,
 * healthy instances come without a message (the engine only words what it reports).
 */
export async function evaluateAt(port: PrometheusPort, slo: Slo, at: number, detail: Detail = 'all'): Promise<SloFrame> {
  if (slo.kind === 'threshold') {
    const [values, baselines] = await Promise.all([
      guarded(slo, slo.query, () => port.instant(slo.query, at)),
      slo.baseline !== undefined ? guarded(slo, slo.baseline, () => port.instant(slo.baseline!, at)) : undefined,
    ]);
    return thresholdFrame(slo, values, baselines, detail);
  }
  const plan = ratioPlan(slo);
  const start = at - plan.longestMs + plan.resMs;
  const grids = await ratioGrids(port, slo, start, at, plan.resMs);
  return ratioFrame(slo, grids, at, plan.longestMs, detail);
}

/**
 * Fetches the base rates of a ratio SLO from `start` to `end` on a grid of `stepMs` (which divides the base
 * resolution) and builds one RateGrid per instance.
 */
export async function ratioGrids(
  port: PrometheusPort,
  slo: RatioSlo,
  start: number,
  end: number,
  stepMs: number,
): Promise<Array<{ labels: Labels; grid: RateGrid }>> {
  const plan = ratioPlan(slo);
  const part = plan.bad ?? plan.good!;
  const [partSeries, totalSeries] = await Promise.all([
    guarded(slo, part, () => port.range(part, start, end, stepMs)),
    guarded(slo, plan.total, () => port.range(plan.total, start, end, stepMs)),
  ]);
  const n = Math.floor((end - start) / stepMs) + 1;
  const toArray = (s: RangeSeries | undefined) => {
    const a = new Float64Array(n).fill(NaN);
    if (!s) return a;
    for (let k = 0; k < s.times.length; k++) {
      const i = Math.round((s.times[k]! - start) / stepMs);
      if (i >= 0 && i < n) a[i] = s.values[k]!;
    }
    return a;
  };
  const parts = new Map(partSeries.map((s) => [labelsKey(s.labels), s]));
  return totalSeries.map((t) => {
    const total = toArray(t);
    const other = toArray(parts.get(labelsKey(t.labels)));
    let bad: Float64Array;
    if (plan.bad !== undefined) {
      // No bad series for an instance means no bad events.
      bad = other.map((v, i) => (Number.isNaN(v) && !Number.isNaN(total[i]!) ? 0 : v));
    } else {
      bad = total.map((v, i) => (Number.isNaN(v) ? NaN : Math.max(0, v - (Number.isNaN(other[i]!) ? 0 : other[i]!))));
    }
    return { labels: t.labels, grid: new RateGrid(start, stepMs, bad, total, plan.resMs) };
  });
}
