/**
 * Range answers shared within a backtest. A threshold SLO on an error rate usually divides the same two aggregations
 * a ratio SLO of the same service reads as its parts (`sum(rate(errors[5m])) / sum(rate(requests[5m]))`): asked of
 * Prometheus, the quotient costs as much again as both parts. When the two sides of a query's top-level `/` are
 * queries the backtest reads anyway, on the same step grid over a span that covers the query's, the quotient is made
 * here from their answers: PromQL's one-to-one division of two aggregations (series matched on all their labels,
 * a point where both sides have one), and the same doubles Prometheus would divide (its answers give each value
 * exactly). A quotient of more than one series is asked of Prometheus (the order of its series is Prometheus'), as
 * is any other query.
 */
import type { Slo } from '../rules/model.js';
import { labelsKey } from './labels.js';
import { type Span, ratioPlan, spanOver } from './plan.js';
import type { InstantSample, PrometheusPort, RangeSeries } from './prometheus.js';

/** Aggregations: each gives an instant vector with one series per group, without a metric name. */
const AGGREGATION = String.raw`(?:sum|avg|min|max|count|group)\s*(?:(?:by|without)\s*\(\)\s*)?\(\)(?:\s*(?:by|without)\s*\(\))?`;
const RATIO = new RegExp(String.raw`^\s*${AGGREGATION}\s*/\s*${AGGREGATION}\s*$`);

/**
 * The two sides of `A / B` when A and B are aggregations (`sum(…)`, `sum by (x) (…)`, …) and nothing else is at the
 * top of the query: no other operator, no modifier (`on`, `ignoring`, `bool`, …), no comment.
 */
export function splitQuotient(query: string): [string, string] | undefined {
  let depth = 0;
  let skeleton = '';
  let slash = -1;
  for (let i = 0; i < query.length; i++) {
    const c = query[i]!;
    if (c === '"' || c === "'" || c === '`') {
      // A string: skipped to its end (backslash escapes, except in raw strings).
      for (i++; i < query.length && query[i] !== c; i++) if (c !== '`' && query[i] === '\\') i++;
      if (i >= query.length) return undefined;
      if (depth === 0) skeleton += 's';
      continue;
    }
    if (c === '#') return undefined;
    if (c === '(' || c === '[' || c === '{') {
      if (depth++ === 0) skeleton += c;
    } else if (c === ')' || c === ']' || c === '}') {
      if (--depth < 0) return undefined;
      if (depth === 0) skeleton += c;
    } else if (depth === 0) {
      if (c === '/') {
        if (slash >= 0) return undefined;
        slash = i;
      }
      skeleton += c;
    }
  }
  if (depth !== 0 || slash < 0 || !RATIO.test(skeleton)) return undefined;
  return [query.slice(0, slash).trim(), query.slice(slash + 1).trim()];
}

interface Source {
  span: Span;
  /** Asks still to come: the reader's own and one per quotient made from it. */
  uses: number;
  answer?: Promise<RangeSeries[]>;
}

/**
 * A PrometheusPort for one backtest: `sources` are the range queries its ratio SLOs read (and over which spans);
 * a quotient of two of them is made from their answers, asked once and dropped after their last use.
 */
export class BacktestRanges implements PrometheusPort {
  private readonly sources = new Map<string, Source>();
  /** Queries answered from the answers of others. */
  derived = 0;

  constructor(
    private readonly port: PrometheusPort,
    sources: ReadonlyArray<{ query: string; span: Span }>,
    quotients: readonly string[],
  ) {
    for (const { query, span } of sources) {
      const known = this.sources.get(query);
      if (!known) this.sources.set(query, { span, uses: 1 });
      // Read twice over different spans: not shared here.
      else if (!sameSpan(known.span, span)) this.sources.delete(query);
      else known.uses++;
    }
    for (const q of quotients) {
      const sides = splitQuotient(q)?.map((side) => this.sources.get(side));
      if (sides?.[0] && sides[1]) for (const source of sides) source!.uses++;
    }
  }

  instant(query: string, at: number): Promise<InstantSample[]> {
    return this.port.instant(query, at);
  }

  async range(query: string, start: number, end: number, stepMs: number): Promise<RangeSeries[]> {
    const source = this.sources.get(query);
    if (source && sameSpan(source.span, { start, end, stepMs })) return this.read(query, source);
    const sides = splitQuotient(query);
    const [a, b] = sides ? sides.map((s) => this.sources.get(s)) : [];
    if (sides && a && b) {
      if (covers(a.span, start, end, stepMs) && covers(b.span, start, end, stepMs)) {
        const quotient = divide(await this.read(sides[0], a), await this.read(sides[1], b), start, end);
        if (quotient) {
          this.derived++;
          return quotient;
        }
      } else {
        this.release(sides[0], a);
        this.release(sides[1], b);
      }
    }
    return this.port.range(query, start, end, stepMs);
  }

  private read(query: string, source: Source): Promise<RangeSeries[]> {
    const answer = (source.answer ??= this.port.range(query, source.span.start, source.span.end, source.span.stepMs));
    this.release(query, source);
    return answer;
  }

  /** One use of a source less: after the last, its answer is dropped. */
  private release(query: string, source: Source): void {
    if (--source.uses <= 0) this.sources.delete(query);
  }
}

/** The ranges of a backtest of `replays` (an SLO once per replay) over [from, to] every `stepMs`, over `port`. */
export function backtestRanges(
  port: PrometheusPort,
  replays: readonly Slo[],
  from: number,
  to: number,
  stepMs: number,
): BacktestRanges {
  const sources = replays.flatMap((slo) => {
    if (slo.kind !== 'ratio') return [];
    // What fetchRates reads (loadFrames in evaluate.ts).
    const plan = ratioPlan(slo);
    const span = spanOver(plan, from, to, stepMs);
    return [plan.bad ?? plan.good!, plan.total].map((query) => ({ query, span }));
  });
  const quotients = replays.flatMap((slo) => (slo.kind === 'threshold' ? [slo.query] : []));
  return new BacktestRanges(port, sources, quotients);
}

function sameSpan(a: Span, b: Span): boolean {
  return a.start === b.start && a.end === b.end && a.stepMs === b.stepMs;
}

/** Whether a source's points include every step of [start, end] every `stepMs`. */
function covers(span: Span, start: number, end: number, stepMs: number): boolean {
  return span.stepMs === stepMs && span.start <= start && span.end >= end && (start - span.start) % stepMs === 0;
}

/**
 * `A / B` over [start, end] from the answers of A and B: one-to-one on the series' labels, a point at each time both
 * have one. Undefined when the quotient has more than one series. x/0 is ±Inf and 0/0 NaN, as in Prometheus.
 */
function divide(a: RangeSeries[], b: RangeSeries[], start: number, end: number): RangeSeries[] | undefined {
  const right = new Map(b.map((s) => [labelsKey(s.labels), s]));
  const out: RangeSeries[] = [];
  for (const left of a) {
    const other = right.get(labelsKey(left.labels));
    if (!other) continue;
    const n = Math.min(left.times.length, other.times.length);
    const times = new Float64Array(n);
    const values = new Float64Array(n);
    let k = 0;
    for (let i = 0, j = 0; i < left.times.length && j < other.times.length; ) {
      const t = left.times[i]!;
      const u = other.times[j]!;
      if (t < u) i++;
      else if (u < t) j++;
      else {
        if (t >= start && t <= end) {
          times[k] = t;
          values[k++] = left.values[i]! / other.values[j]!;
        }
        i++;
        j++;
      }
    }
    if (k === 0) continue;
    if (out.length > 0) return undefined;
    out.push({ labels: left.labels, times: times.slice(0, k), values: values.slice(0, k) });
  }
  return out;
}
