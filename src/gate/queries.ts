/**
 * The PromQL of a rollout gate: for one side of a comparison (one value of the compared label), the SLI over the
 * whole window and the number of events it rests on. Pure: the SLO's own queries are rewritten, so the gate
 * measures exactly what the SLO alerts on, with every selector narrowed to the side (`label="value"`) and every
 * rate() range stretched to the window.
 *
 * - ratio SLO: the share of bad events (`bad / total`, or `1 - good / total`) with `$window` = the window; events:
 *   total × window seconds (the increase of the total counter);
 * - histogram_quantile(q, …) over buckets: the quantile over the window; events: the `le="+Inf"` bucket's increase;
 * - A / B of rates (error rate, cost per request, hit ratio): A / B over the window; events: B × window seconds;
 * - a gauge, or avg/min/max/sum of one (eval score): its average over the window (avg_over_time); events: the number
 *   of samples (count_over_time), summed over the series the SLO aggregates.
 */
import type { SyntaxNode } from '@lezer/common';
import { children, compareForm, parseRoot } from '../rules/check/compare.js';
import { type Compare, type Slo, formatDuration } from '../rules/index.js';
import { fillWindow } from '../rules/window.js';

/** The two instant queries of one side, both evaluated at the end of the window. */
export interface SideQueries {
  value: string;
  events: string;
}

interface Rewrite {
  /** Matchers added to every selector, as `name="value"`. */
  matchers: string[];
  /** The range every `[…]` of a range selector becomes (subquery ranges stay). */
  range: string;
  /** Wraps each instant selector (gauges): `fn(selector[range])`. */
  wrap?: string;
  /** Replaces the operator of the outermost aggregation. */
  op?: string;
}

/** A PromQL string literal (Go's escapes are a superset of JSON's). */
const quote = (s: string) => JSON.stringify(s);

/** `expr` with the rewrite applied, in one pass over its syntax tree. */
function rewrite(expr: string, r: Rewrite): string {
  const root = parseRoot(expr);
  if (!root) throw new Error(`cannot rewrite a query that does not parse: ${expr}`);
  const edits: Array<{ from: number; to: number; text: string }> = [];
  if (r.op !== undefined && root.name === 'AggregateExpr') {
    const op = root.getChild('AggregateOp')!;
    edits.push({ from: op.from, to: op.to, text: r.op });
  }
  const selector = (n: SyntaxNode) => {
    const m = n.getChild('LabelMatchers');
    const text = m
      ? expr
          .slice(m.from + 1, m.to - 1)
          .trim()
          .replace(/,$/, '')
          .trim()
      : '';
    const all = [...(text ? [text] : []), ...r.matchers].join(', ');
    const name = n.getChild('Identifier');
    return `${name ? expr.slice(name.from, name.to) : ''}{${all}}`;
  };
  const walk = (n: SyntaxNode): void => {
    if (n.name === 'MatrixSelector') {
      edits.push({ from: n.from, to: n.to, text: `${selector(n.getChild('VectorSelector')!)}[${r.range}]` });
      return;
    }
    if (n.name === 'VectorSelector') {
      const s = selector(n);
      edits.push({ from: n.from, to: n.to, text: r.wrap ? `${r.wrap}(${s}[${r.range}])` : s });
      return;
    }
    children(n).forEach(walk);
  };
  walk(root);
  let out = expr;
  for (const e of edits.sort((a, b) => b.from - a.from)) out = out.slice(0, e.from) + e.text + out.slice(e.to);
  return out;
}

/** The text of a node. */
const text = (expr: string, n: SyntaxNode) => expr.slice(n.from, n.to);

/** The instant queries of one side of an SLO's comparison over `windowMs`. */
export function sideQueries(slo: Slo & { compare: Compare }, side: string, windowMs: number): SideQueries {
  const range = formatDuration(windowMs);
  const seconds = windowMs / 1000;
  const narrow: Rewrite = { matchers: [`${slo.compare.label}=${quote(side)}`], range };
  if (slo.kind === 'ratio') {
    const q = (s: string) => rewrite(fillWindow(s, range), narrow);
    const total = q(slo.ratio.total);
    const part = slo.ratio.bad !== undefined ? q(slo.ratio.bad) : q(slo.ratio.good!);
    const share = `(${part} or 0 * ${total}) / ${total}`;
    return { value: slo.ratio.bad !== undefined ? share : `1 - ${share}`, events: `${total} * ${seconds}` };
  }
  const form = compareForm(slo.query);
  const root = parseRoot(slo.query)!;
  switch (form) {
    case 'histogram': {
      const inner = children(root.getChild('FunctionCallBody')!)[1]!;
      const buckets = rewrite(text(slo.query, inner), { ...narrow, matchers: [...narrow.matchers, 'le="+Inf"'] });
      return { value: rewrite(slo.query, narrow), events: `sum without (le) (${buckets}) * ${seconds}` };
    }
    case 'ratio': {
      const sides = children(root);
      const denominator = rewrite(text(slo.query, sides[sides.length - 1]!), narrow);
      return { value: rewrite(slo.query, narrow), events: `(${denominator}) * ${seconds}` };
    }
    case 'gauge':
      return {
        value: rewrite(slo.query, { ...narrow, wrap: 'avg_over_time' }),
        events: rewrite(slo.query, { ...narrow, wrap: 'count_over_time', op: 'sum' }),
      };
    default:
      throw new Error(`slo ${JSON.stringify(slo.id)}: ${form.problem}`);
  }
}
