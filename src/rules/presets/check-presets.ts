/**
 * The checks of `metrics:` and of SLOs declared by signal, kept apart from the checker of the whole file: the
 * checker calls these at two places and gets problems with paths back.
 */
import { checkPromql } from '../promql.js';
import type { MetricsDoc, SloDoc } from '../schema.js';
import { derive } from './derive.js';

/** A problem at `path` (relative to the document), optionally at a character offset inside its string. */
export interface PresetProblem {
  path: Array<string | number>;
  message: string;
  offset?: number;
}

const MATCHER_FIELDS = [['selector'], ['requests', 'errors'], ['cache', 'hits']] as const;

/** Checks the label matchers of `metrics:`; the metrics are usable when no problem is returned. */
export function checkMetrics(metrics: MetricsDoc, highCardinality: ReadonlySet<string>): PresetProblem[] {
  const problems: PresetProblem[] = [];
  for (const path of MATCHER_FIELDS) {
    const value = path.reduce<unknown>(
      (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
      metrics,
    );
    if (typeof value !== 'string') continue;
    const prefix = 'x{';
    const info = checkPromql(`${prefix}${value}}`);
    for (const issue of info.issues) {
      problems.push({
        path: ['metrics', ...path],
        offset: Math.max(0, issue.offset - prefix.length),
        message: `invalid label matchers in metrics.${path.join('.')}: ${issue.message} (expected matchers such as app="assistant", status="error")`,
      });
    }
    for (const m of value.matchAll(/(?:^|,)\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) {
      if (highCardinality.has(m[1]!)) {
        problems.push({
          path: ['metrics', ...path],
          offset: m.index! + m[0].indexOf(m[1]!),
          message: `metrics.${path.join('.')} selects on high-cardinality label ${JSON.stringify(m[1])}: keep per-user and per-request ids in traces and logs, not in metric labels`,
        });
      }
    }
  }
  return problems;
}

/** Fields that only SLOs declared by signal take. */
const PRESET_FIELDS = ['quantile', 'by', 'range'] as const;

/**
 * An SLO with its query, baseline or ratio derived from the service's metrics when it has neither query nor ratio;
 * problems when it cannot be derived or preset fields are given beside a query.
 */
export function presetSlo(
  slo: SloDoc,
  metrics: MetricsDoc | undefined,
  highCardinality: ReadonlySet<string>,
): { slo: SloDoc; derived: boolean } | { problems: PresetProblem[] } {
  const written = slo.query !== undefined || slo.ratio !== undefined;
  if (written) {
    const extra = PRESET_FIELDS.filter((f) => slo[f] !== undefined);
    if (extra.length === 0) return { slo, derived: false };
    return {
      problems: extra.map((f) => ({
        path: [f],
        message: `${f} applies to SLOs declared by signal (without query or ratio), from the service's metrics:`,
      })),
    };
  }
  if (!metrics) return { slo, derived: false };
  const problems: PresetProblem[] = [];
  (slo.by ?? []).forEach((label, i) => {
    if (highCardinality.has(label))
      problems.push({
        path: ['by', i],
        message: `by splits on high-cardinality label ${JSON.stringify(label)}: keep per-user and per-request ids in traces and logs, not in metric labels`,
      });
  });
  if (slo.quantile !== undefined && slo.signal !== 'latency')
    problems.push({ path: ['quantile'], message: 'quantile applies to latency SLOs' });
  if (slo.baseline !== undefined)
    problems.push({
      path: ['baseline'],
      message: 'an SLO declared by signal derives its baseline; give a query to write your own',
    });
  if (problems.length) return { problems };
  const d = derive(metrics, slo);
  if ('problem' in d) return { problems: [d.problem] };
  if ('ratio' in d) return { slo: { ...slo, ratio: d.ratio }, derived: true };
  return {
    slo: { ...slo, query: d.query, ...(d.baseline !== undefined ? { baseline: d.baseline } : {}) },
    derived: true,
  };
}
