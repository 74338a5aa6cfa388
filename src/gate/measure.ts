/**
 * Measures the comparisons of a rollout gate through the PrometheusPort: per SLO with `compare:`, the baseline value
 * of its label and the candidate value, each over the window ending at `at`. An SLO that splits into instances
 * (`by: [model]`) is compared instance by instance; an instance only one side has is compared with no events on the
 * other side (not enough data, never a promotion).
 */
import { type Labels, formatLabels } from '../evaluator/labels.js';
import type { InstantSample, PrometheusPort } from '../evaluator/prometheus.js';
import type { Compare, Slo } from '../rules/index.js';
import { sideQueries } from './queries.js';
import type { Comparison, Side } from './verdict.js';

export type ComparedSlo = Slo & { compare: Compare };

/** The SLOs that declare `compare:`. */
export function comparedSlos(slos: readonly Slo[]): ComparedSlo[] {
  return slos.filter((s): s is ComparedSlo => s.compare !== undefined);
}

/** A failed measurement: which SLO, which side, which query. */
export class MeasureError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'MeasureError';
  }
}

/** The labels that tell an SLO's instances apart: the series labels without the compared label. */
function instanceKey(labels: Labels, label: string): { key: string; labels: Labels } {
  const rest = Object.fromEntries(
    Object.entries(labels).filter(([k]) => k !== label && k !== '__name__' && k !== 'le'),
  );
  return { key: JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1))), labels: rest };
}

type SideSamples = Map<string, { labels: Labels; side: Side }>;

async function measureSide(
  prometheus: PrometheusPort,
  slo: ComparedSlo,
  side: string,
  at: number,
  windowMs: number,
): Promise<SideSamples> {
  const q = sideQueries(slo, side, windowMs);
  const query = async (what: string, expr: string): Promise<InstantSample[]> => {
    try {
      return await prometheus.instant(expr, at);
    } catch (e) {
      throw new MeasureError(
        `could not measure slo ${JSON.stringify(slo.id)} (${what} of ${slo.compare.label}=${JSON.stringify(side)})`,
        { cause: e },
      );
    }
  };
  const [values, events] = [await query('value', q.value), await query('events', q.events)];
  const out: SideSamples = new Map();
  for (const s of values) {
    const { key, labels } = instanceKey(s.labels, slo.compare.label);
    out.set(key, { labels, side: { value: s.value, events: 0 } });
  }
  for (const s of events) {
    const { key, labels } = instanceKey(s.labels, slo.compare.label);
    const found = out.get(key) ?? { labels, side: { value: Number.NaN, events: 0 } };
    found.side.events += Number.isFinite(s.value) ? Math.round(s.value) : 0;
    out.set(key, found);
  }
  return out;
}

/** The comparisons of one SLO: one per instance either side has (one with no data at all when neither has any). */
export async function measure(
  prometheus: PrometheusPort,
  slo: ComparedSlo,
  candidate: string,
  at: number,
  windowMs: number,
): Promise<Comparison[]> {
  const baseline = await measureSide(prometheus, slo, slo.compare.baseline, at, windowMs);
  const cand = await measureSide(prometheus, slo, candidate, at, windowMs);
  const keys = [...new Set([...baseline.keys(), ...cand.keys()])].sort();
  const none: Side = { value: Number.NaN, events: 0 };
  const compared = (labels: Labels, b: Side, c: Side): Comparison => {
    return {
      slo: `${slo.id}${formatLabels(labels)}`,
      when: slo.compare.when,
      minEvents: slo.compare.minEvents,
      baseline: b,
      candidate: c,
    };
  };
  if (keys.length === 0) return [compared({}, none, none)];
  return keys.map((k) =>
    compared(
      baseline.get(k)?.labels ?? cand.get(k)?.labels ?? {},
      baseline.get(k)?.side ?? none,
      cand.get(k)?.side ?? none,
    ),
  );
}
