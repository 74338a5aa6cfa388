/**
 * The checks of `compare:` (variant comparison, the rollout gate of `sloe gate`), kept apart from the checker of the
 * whole file: check/slos.ts calls `withCompare` once per SLO. A comparison needs a change condition (its own or the
 * signal's default), a label that sloe can set in every selector of the SLO's queries, and a query whose events
 * sloe knows how to count (`compareForm`).
 */
import type { SyntaxNode } from '@lezer/common';
import { type Change, parseCondition } from '../condition.js';
import { labelUses, parse, walk } from '../lint/promql-facts.js';
import type { Compare, Signal } from '../model.js';
import type { PresetProblem } from '../presets/check-presets.js';
import type { SloDoc } from '../schema.js';
import { fillWindow } from '../window.js';

/** What a variant may move from the baseline by default, per signal; other signals name `compare.when`. */
export const COMPARE_WHEN: Partial<Record<Signal, string>> = {
  latency: 'rise > 20%',
  cost_per_request: 'rise > 20%',
  // The error ratio is a share already: half a percentage point, not 0.5 % of the baseline's ratio.
  error_rate: 'rise > 0.005',
  eval_score: 'drop > 2',
};

/** The fewest events per side by default: requests for counters and histograms, samples for gauges. */
export const COMPARE_MIN_EVENTS = { events: 100, samples: 10 } as const;

/**
 * How the events of a query SLO are counted: `histogram` (histogram_quantile over buckets: the requests of the
 * `le="+Inf"` bucket), `ratio` (A / B of rates: B's events) or `gauge` (a gauge, or avg/min/max/sum of one: its
 * samples). Ratio SLOs count their `total`.
 */
export type CompareForm = 'histogram' | 'ratio' | 'gauge';

const GAUGE_AGGREGATIONS = new Set(['avg', 'min', 'max', 'sum']);

/** The expression under any parentheses. */
export function unwrap(node: SyntaxNode): SyntaxNode {
  let n = node;
  while (n.name === 'ParenExpr' && n.firstChild) n = n.firstChild;
  return n;
}

/** The named children of a node (the arguments of a call's body, the sides of a binary expression). */
export function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
}

function has(node: SyntaxNode, names: readonly string[]): boolean {
  let found = false;
  walk(node, (n) => {
    found ||= names.includes(n.name);
  });
  return found;
}

/** The root expression of a PromQL text under any parentheses, or undefined when it does not parse. */
export function parseRoot(expr: string): SyntaxNode | undefined {
  const root = parse(expr);
  return root ? unwrap(root) : undefined;
}

/** The form of a query SLO's query for counting its events, or why sloe cannot count them. */
export function compareForm(expr: string): CompareForm | { problem: string } {
  const root = parseRoot(expr);
  if (!root) return { problem: 'the query does not parse' };
  if (root.name === 'FunctionCall' && expr.slice(root.from, root.to).startsWith('histogram_quantile'))
    return 'histogram';
  if (root.name === 'BinaryExpr' && root.getChild('Div') && has(root, ['MatrixSelector'])) return 'ratio';
  if (!has(root, ['MatrixSelector', 'SubqueryExpr'])) {
    if (root.name === 'VectorSelector') return 'gauge';
    const op = root.name === 'AggregateExpr' ? root.getChild('AggregateOp') : null;
    const body = root.getChild('FunctionCallBody');
    const args = body ? children(body) : [];
    if (
      op &&
      GAUGE_AGGREGATIONS.has(expr.slice(op.from, op.to)) &&
      args.length === 1 &&
      args[0]!.name === 'VectorSelector'
    )
      return 'gauge';
  }
  return {
    problem:
      'compare cannot count the events of this query: it takes histogram_quantile(…) over buckets, a ratio A / B of rates, a gauge or avg/min/max/sum of one, or a ratio SLO',
  };
}

/**
 * Where selectors of `expr` already match on `label` (offsets of the label names), and how many selectors it has
 * (NaN when it does not parse: the query's own check reports that).
 */
export function selectorsOn(expr: string, label: string): { conflicts: number[]; selectors: number } {
  const root = parse(expr);
  let selectors = 0;
  if (root) {
    walk(root, (n) => {
      if (n.name === 'VectorSelector') selectors++;
    });
  }
  const conflicts = labelUses(expr)
    .filter((u) => u.as === 'matcher' && u.label === label)
    .map((u) => u.offset);
  return { conflicts, selectors: root ? selectors : Number.NaN };
}

/** A ratio query with its `$window` filled in, so that it parses (offsets past the placeholder shift). */
const withWindow = (q: string) => fillWindow(q, '5m');

/**
 * The SLO with its comparison when `compare:` is valid; otherwise the SLO as it was, with the problems reported.
 * `slo` is the SLO document with its queries (derived ones included); problems in a derived query point at
 * `compare`, in a written one at the query itself.
 */
export function withCompare<T extends object>(
  built: T,
  slo: SloDoc,
  derived: boolean,
  highCardinality: ReadonlySet<string>,
  report: (problems: PresetProblem[]) => void,
): T {
  const c = slo.compare;
  if (!c) return built;
  const problems: PresetProblem[] = [];
  if (c.label === 'le' || c.label === '__name__')
    problems.push({
      path: ['compare', 'label'],
      message: `compare.label cannot be ${c.label}: name the label whose values are the variants, e.g. prompt_key`,
    });
  if (highCardinality.has(c.label))
    problems.push({
      path: ['compare', 'label'],
      message: `compare.label ${JSON.stringify(c.label)} is a high-cardinality label: variants are prompts or models, never users or requests`,
    });

  const whenText = c.when ?? COMPARE_WHEN[slo.signal];
  const when = whenText !== undefined ? parseCondition(whenText) : undefined;
  if (whenText === undefined) {
    problems.push({
      path: ['compare'],
      message: `compare needs when for a ${slo.signal} SLO (no default): say how far a variant may move, e.g. when: "rise > 20%"`,
    });
  } else if (when?.kind !== 'change') {
    problems.push({
      path: ['compare', 'when'],
      message: `compare.when must be a change against the baseline such as "rise > 20%" or "drop > 2" (got ${JSON.stringify(whenText)})`,
    });
  }

  const queries: Array<{ field: string[]; text: string; parsed: string }> = slo.ratio
    ? (['bad', 'good', 'total'] as const).flatMap((k) =>
        slo.ratio?.[k] !== undefined
          ? [{ field: ['ratio', k], text: slo.ratio[k]!, parsed: withWindow(slo.ratio[k]!) }]
          : [],
      )
    : slo.query !== undefined
      ? [{ field: ['query'], text: slo.query, parsed: slo.query }]
      : [];
  const where = (field: string[], offset?: number): PresetProblem =>
    derived
      ? { path: ['compare', 'label'], message: '' }
      : { path: field, message: '', ...(offset !== undefined && !slo.ratio ? { offset } : {}) };
  let form: CompareForm | 'events' = 'events';
  for (const q of queries) {
    const { conflicts, selectors } = selectorsOn(q.parsed, c.label);
    for (const offset of conflicts) {
      problems.push({
        ...where(q.field, offset),
        message: `${q.field.join('.')} already selects on ${c.label}: compare picks each variant by ${c.label} itself, so leave it out of the query`,
      });
    }
    if (selectors === 0)
      problems.push({
        ...where(q.field),
        message: `${q.field.join('.')} selects no series: compare has nowhere to pick a variant by ${c.label}`,
      });
  }
  if (!slo.ratio && slo.query !== undefined) {
    const f = compareForm(slo.query);
    if (typeof f === 'string') form = f;
    else problems.push({ ...where(['query']), message: f.problem });
  }
  if (problems.length > 0) {
    report(problems);
    return built;
  }
  const compare: Compare = {
    label: c.label,
    baseline: c.baseline,
    when: when as Change,
    minEvents: c.minEvents ?? (form === 'gauge' ? COMPARE_MIN_EVENTS.samples : COMPARE_MIN_EVENTS.events),
  };
  return { ...built, compare };
}
