/** `sloe validate --explain`: the PromQL each SLO runs, exactly as the engine runs it. */
import { ratioPlan } from '../evaluator/index.js';
import { type Slo, formatDuration } from '../rules/index.js';

/** The queries of one SLO: as declared (or derived from `metrics:`), and for a ratio the base queries as run. */
export interface Explained {
  service: string;
  slo: string;
  signal: string;
  derived: boolean;
  query?: string;
  baseline?: string;
  ratio?: { bad?: string; good?: string; total: string };
  /** Ratio SLOs: `$window` as the engine fills it in (the base resolution of the burn-rate windows). */
  window?: string;
}

export function explain(slo: Slo): Explained {
  const base = { service: slo.service, slo: slo.name, signal: slo.signal, derived: slo.derived === true };
  if (slo.kind === 'threshold')
    return { ...base, query: slo.query, ...(slo.baseline !== undefined ? { baseline: slo.baseline } : {}) };
  return { ...base, ratio: slo.ratio, window: formatDuration(ratioPlan(slo).resMs) };
}

/** The text form: one block per SLO, each query on its own line(s) as it is sent. */
export function explainText(e: Explained): string {
  const lines = [`${e.service}/${e.slo}  (${e.signal}${e.derived ? ', derived from metrics:' : ''})`];
  const field = (name: string, q: string) => lines.push(`  ${name}: ${q.replace(/\n/g, '\n    ')}`);
  if (e.query !== undefined) field('query', e.query);
  if (e.baseline !== undefined) field('baseline', e.baseline);
  if (e.ratio) {
    for (const k of ['bad', 'good', 'total'] as const) if (e.ratio[k] !== undefined) field(k, e.ratio[k]!);
    lines.push(`  ($window is ${e.window}: each burn-rate window sums these base rates)`);
  }
  return lines.join('\n') + '\n';
}
