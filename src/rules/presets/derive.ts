/**
 * Derives the PromQL of an SLO declared by signal from the service's `metrics:`. Ratios of events that may not have
 * happened yet (errors, cache hits, guardrail triggers) are absent-safe: a numerator with no series reads as 0, so a
 * healthy service that never failed is healthy, not "no data".
 */
import { parseCondition, parsePercent } from '../condition.js';
import type { MetricsDoc, SloDoc } from '../schema.js';
import { type ProfileLabels, resolveMetrics } from './profiles.js';
import { WINDOW_PLACEHOLDER } from '../window.js';

/** What a signal needs from `metrics:` (the field names, for messages). */
const NEEDS: Record<string, string> = {
  latency: 'duration',
  error_rate: 'requests',
  cost_per_request: 'cost (or tokens and tokenPrices) and requests',
  cache_hit_rate: 'cache',
  guardrail_rate: 'guardrail and requests',
  queue_depth: 'queue',
  eval_score: 'evalScore',
};

/** The default range of rate() per signal. */
export const DEFAULT_RANGE: Record<string, string> = {
  latency: '5m',
  error_rate: '5m',
  cost_per_request: '1d',
  cache_hit_rate: '10m',
  guardrail_rate: '10m',
};

/** The baseline of an eval score: its hourly average over the previous week. */
const BASELINE = (q: string) => `avg_over_time(${q}[7d:1h] offset 1d)`;

export type Derived =
  | { query: string; baseline?: string }
  | { ratio: { bad: string; total: string } }
  | { problem: { path: Array<string | number>; message: string } };

/** Derives the query (and baseline) or ratio of a signal SLO; a problem when the metrics lack what it needs. */
export function derive(metricsDoc: MetricsDoc, slo: SloDoc): Derived {
  const m: MetricsDoc & { labels: ProfileLabels } = resolveMetrics(metricsDoc);
  const fail = (path: Array<string | number>, message: string): Derived => ({ problem: { path, message } });
  const missing = () =>
    fail(
      ['signal'],
      `signal ${slo.signal} declared without a query needs ${NEEDS[slo.signal]} under metrics: (profile ${metricsDoc.profile ?? 'custom'} does not name it)`,
    );
  const range = slo.range !== undefined ? String(slo.range) : (DEFAULT_RANGE[slo.signal] ?? '5m');
  const by = slo.by ?? [];
  const sel = (name: string, extra?: string) => {
    const matchers = [m.selector, extra]
      .filter((s): s is string => s !== undefined && s.trim() !== '')
      .map((s) => s.trim());
    return matchers.length ? `${name}{${matchers.join(', ')}}` : name;
  };
  const sum = (inner: string) => (by.length ? `sum by (${by.join(', ')}) (${inner})` : `sum(${inner})`);
  const rate = (name: string, extra?: string, r = range) => `rate(${sel(name, extra)}[${r}])`;
  /** numerator / denominator, with a numerator that has no series read as 0 where the denominator has data. */
  const safeRatio = (num: string, den: string) =>
    by.length ? `(${num} or 0 * ${den}) / ${den}` : `(${num} or vector(0)) / ${den}`;

  switch (slo.signal) {
    case 'latency': {
      if (!m.duration) return missing();
      const q = slo.quantile ?? 0.95;
      return {
        query: `histogram_quantile(${q}, sum by (${['le', ...by].join(', ')}) (${rate(`${m.duration}_bucket`)}))`,
      };
    }
    case 'error_rate': {
      if (!m.requests) return missing();
      const objective = slo.objective;
      if (objective !== undefined && parseCondition(objective) === undefined && parsePercent(objective) !== undefined) {
        // A percentage objective: an availability SLO with an error budget (ratio, burn-rate alerts).
        return {
          ratio: {
            bad: sum(rate(m.requests.counter, m.requests.errors, WINDOW_PLACEHOLDER)),
            total: sum(rate(m.requests.counter, undefined, WINDOW_PLACEHOLDER)),
          },
        };
      }
      return { query: safeRatio(sum(rate(m.requests.counter, m.requests.errors)), sum(rate(m.requests.counter))) };
    }
    case 'cost_per_request': {
      if (!m.requests) return missing();
      let cost: string;
      if (m.cost) cost = sum(rate(m.cost));
      else if (m.tokens && m.tokenPrices) {
        const part = (type: 'input' | 'output') =>
          `${rate(`${m.tokens}_sum`, `gen_ai_token_type="${type}"`)} * ${m.tokenPrices![type]}`;
        cost = sum(`${part('input')} or ${part('output')}`);
      } else return missing();
      return { query: `${cost} / ${sum(rate(m.requests.counter))}` };
    }
    case 'cache_hit_rate':
      if (!m.cache) return missing();
      return { query: safeRatio(sum(rate(m.cache.counter, m.cache.hits)), sum(rate(m.cache.counter))) };
    case 'guardrail_rate':
      if (!m.guardrail || !m.requests) return missing();
      return { query: safeRatio(sum(rate(m.guardrail)), sum(rate(m.requests.counter))) };
    case 'queue_depth':
      if (!m.queue) return missing();
      return { query: by.length ? `max by (${by.join(', ')}) (${sel(m.queue)})` : `max(${sel(m.queue)})` };
    case 'eval_score': {
      if (!m.evalScore) return missing();
      const query = by.length ? `avg by (${by.join(', ')}) (${sel(m.evalScore)})` : `avg(${sel(m.evalScore)})`;
      const when = slo.alert?.when !== undefined ? parseCondition(slo.alert.when) : undefined;
      return when?.kind === 'change' ? { query, baseline: BASELINE(query) } : { query };
    }
    default:
      return fail(['signal'], 'a custom signal has no preset: give it a query or a ratio');
  }
}
