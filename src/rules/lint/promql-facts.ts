/**
 * What the guide's lint rules need to know about a PromQL expression, read with the Prometheus project's grammar:
 * which labels it names and where, which metrics it selects, which quantiles it takes, and whether the numerator of
 * a ratio can be absent.
 */
import type { SyntaxNode, SyntaxNodeRef, Tree } from '@lezer/common';
import { hasSyntaxError, parsePromql } from '../promql.js';

/** A label named in an expression, with how it is used and its character offset. */
export interface LabelUse {
  label: string;
  offset: number;
  /** `matcher`: in a selector (`{user_id="…"}`); `without`, `by`: in an aggregation; `on`, `ignoring`: in vector matching. */
  as: 'matcher' | 'by' | 'without' | 'on' | 'ignoring';
}

/** A metric selected by name, with its equality and regex matchers. */
export interface SelectorFact {
  metric: string;
  offset: number;
  matchers: Array<{ label: string; op: string; value: string }>;
}

/** The root of a PromQL expression's syntax tree, or undefined when it does not parse. */
export function parse(expr: string): SyntaxNode | undefined {
  const tree = parsePromql(expr);
  return hasSyntaxError(tree) ? undefined : (tree.topNode.firstChild ?? undefined);
}

/**
 * Visits a node and everything below it, in order, with one cursor: a visitor that needs a node's children asks
 * for `n.node`, so that the nodes it skips are never built.
 */
export function walk(node: SyntaxNode, visit: (n: SyntaxNodeRef) => void): void {
  const cursor = node.cursor();
  let depth = 0;
  for (;;) {
    visit(cursor);
    if (cursor.firstChild()) {
      depth++;
      continue;
    }
    for (;;) {
      if (depth === 0) return;
      if (cursor.nextSibling()) break;
      cursor.parent();
      depth--;
    }
  }
}

const unquote = (s: string) => {
  try {
    return JSON.parse(
      s.startsWith("'")
        ? `"${s.slice(1, -1).replace(/"/g, '\\"')}"`
        : s.startsWith('`')
          ? JSON.stringify(s.slice(1, -1))
          : s,
    ) as string;
  } catch {
    return s.slice(1, -1);
  }
};

/**
 * What `find` reads from the tree of an expression, kept per tree: expressions of one shape share their tree
 * (parsePromql), and what is kept are offsets, the same for all of them. Nothing for an expression that does not parse.
 */
function perTree<T>(cache: WeakMap<Tree, T[]>, expr: string, find: (root: SyntaxNode) => T[]): T[] {
  const tree = parsePromql(expr);
  if (hasSyntaxError(tree)) return [];
  let found = cache.get(tree);
  if (!found) {
    const root = tree.topNode.firstChild;
    found = root ? find(root) : [];
    cache.set(tree, found);
  }
  return found;
}

/**
 * Where a tree names labels. An unquoted name is outside literals, the same in every expression of the tree: it is
 * kept (`name`); a quoted one is read from each expression.
 */
type LabelSpan = { from: number; to: number; name: string | undefined; as: LabelUse['as'] };
const labelSpans = new WeakMap<Tree, LabelSpan[]>();

function spansOf(root: SyntaxNode, expr: string): LabelSpan[] {
  const out: LabelSpan[] = [];
  const span = (l: { name: string; from: number; to: number }, as: LabelUse['as']): LabelSpan => ({
    from: l.from,
    to: l.to,
    name: l.name === 'QuotedLabelName' ? undefined : expr.slice(l.from, l.to),
    as,
  });
  walk(root, (ref) => {
    if (ref.name === 'UnquotedLabelMatcher' || ref.name === 'QuotedLabelMatcher') {
      const n = ref.node;
      const name = n.getChild('LabelName') ?? n.getChild('QuotedLabelName');
      if (name) out.push(span(name, 'matcher'));
    }
    if (ref.name === 'AggregateModifier' || ref.name === 'MatchingModifierClause') {
      const n = ref.node;
      const kind = n.getChild('By')
        ? 'by'
        : n.getChild('Without')
          ? 'without'
          : n.getChild('On')
            ? 'on'
            : n.getChild('Ignoring')
              ? 'ignoring'
              : undefined;
      const labels = n.getChild('GroupingLabels');
      if (!kind || !labels) return;
      for (let l = labels.firstChild; l; l = l.nextSibling) {
        if (l.name === 'LabelName' || l.name === 'QuotedLabelName') out.push(span(l, kind));
      }
    }
  });
  return out;
}

/** Every label the expression names: in selectors, `by`/`without` clauses and `on`/`ignoring` vector matching. */
export function labelUses(expr: string): LabelUse[] {
  return perTree(labelSpans, expr, (root) => spansOf(root, expr)).map((s) => ({
    label: s.name ?? unquote(expr.slice(s.from, s.to)),
    offset: s.from,
    as: s.as,
  }));
}

/** Where a vector selector sits and where its name and matchers are, as offsets into the expression. */
type Span = { from: number; to: number };
type SelectorSpan = {
  from: number;
  id: Span | undefined;
  matchers: Array<{ quoted: boolean; name: Span | undefined; op: Span; value: Span }>;
  /**
   * The metric, when no matcher names it: then it is the selector's name (or none), outside literals and the same in
   * every expression of the tree.
   */
  metric: string | undefined;
};

function selectorSpans(node: SyntaxNode, expr: string): SelectorSpan[] {
  const slice = (s: Span) => expr.slice(s.from, s.to);
  const out: SelectorSpan[] = [];
  walk(node, (ref) => {
    if (ref.name !== 'VectorSelector') return;
    const n = ref.node;
    const id = n.getChild('Identifier');
    const matchers: SelectorSpan['matchers'] = [];
    const list = n.getChild('LabelMatchers');
    for (let m = list?.firstChild ?? null; m; m = m.nextSibling) {
      const name = m.getChild('LabelName');
      const op = m.getChild('MatchOp');
      const value = m.getChild('StringLiteral');
      if (!op || !value) continue;
      matchers.push({
        quoted: m.name === 'QuotedLabelMatcher',
        name: name ? { from: name.from, to: name.to } : undefined,
        op: { from: op.from, to: op.to },
        value: { from: value.from, to: value.to },
      });
    }
    const idSpan = id ? { from: id.from, to: id.to } : undefined;
    const metric = matchers.some((m) => namesMetric(m, slice)) ? undefined : idSpan ? slice(idSpan) : '';
    out.push({ from: n.from, id: idSpan, matchers, metric });
  });
  return out;
}

/** Whether a matcher names the metric (`{"name"}`, `{__name__="name"}`) rather than narrowing it. */
const namesMetric = (m: SelectorSpan['matchers'][number], slice: (s: Span) => string): boolean =>
  (m.quoted && !m.name) || ((m.name ? slice(m.name) : '__name__') === '__name__' && slice(m.op) === '=');

/** The metric a selector selects: its name, or the last matcher that names it. */
function metricOf(span: SelectorSpan, slice: (s: Span) => string): string {
  let metric = span.id ? slice(span.id) : '';
  for (const m of span.matchers) if (namesMetric(m, slice)) metric = unquote(slice(m.value));
  return metric;
}

function selectorFacts(spans: SelectorSpan[], expr: string): SelectorFact[] {
  const slice = (s: Span) => expr.slice(s.from, s.to);
  return spans.map((span) => ({
    metric: metricOf(span, slice),
    offset: span.from,
    matchers: span.matchers
      .filter((m) => !namesMetric(m, slice))
      .map((m) => ({ label: m.name ? slice(m.name) : '__name__', op: slice(m.op), value: unquote(slice(m.value)) })),
  }));
}

function selectorsIn(node: SyntaxNode, expr: string): SelectorFact[] {
  return selectorFacts(selectorSpans(node, expr), expr);
}

/** The selectors of each tree, found once for all the expressions that share it (parsePromql). */
const treeSelectors = new WeakMap<Tree, SelectorSpan[]>();

/** The metric each selector of an expression selects, in order (without reading the other matchers' values). */
export function metrics(expr: string): string[] {
  const slice = (s: Span) => expr.slice(s.from, s.to);
  return perTree(treeSelectors, expr, (root) => selectorSpans(root, expr)).map(
    (span) => span.metric ?? metricOf(span, slice),
  );
}

function quantilesIn(root: SyntaxNode, expr: string): number[] {
  const out: number[] = [];
  walk(root, (ref) => {
    if (ref.name !== 'FunctionCall') return;
    const n = ref.node;
    const id = n.getChild('FunctionIdentifier');
    if (!id || expr.slice(id.from, id.to) !== 'histogram_quantile') return;
    const first = n.getChild('FunctionCallBody')?.firstChild;
    if (first?.name === 'NumberDurationLiteral') out.push(Number(expr.slice(first.from, first.to)));
  });
  return out;
}

/**
 * The quantiles of each tree: function names and numbers are outside literals, the same for all the expressions
 * that share the tree.
 */
const treeQuantiles = new WeakMap<Tree, number[]>();

/** The quantiles of the `histogram_quantile` calls in an expression (numbers only). */
export function quantiles(expr: string): number[] {
  return [...perTree(treeQuantiles, expr, (root) => quantilesIn(root, expr))];
}

const strip = (n: SyntaxNode): SyntaxNode => {
  while (n.name === 'ParenExpr' && n.firstChild) n = n.firstChild;
  return n;
};

function operands(n: SyntaxNode): { left: SyntaxNode; op: string; right: SyntaxNode } | undefined {
  if (n.name !== 'BinaryExpr') return undefined;
  const kids: SyntaxNode[] = [];
  for (let c = n.firstChild; c; c = c.nextSibling) kids.push(c);
  const left = kids[0];
  const op = kids[1];
  const right = kids[kids.length - 1];
  return left && op && right ? { left, op: op.name, right } : undefined;
}

/**
 * The numerator of a top-level division that can return nothing while the denominator has data: a selection of
 * events (errors, hits, triggers) that has no series until the first such event, not guarded by `or`. Undefined
 * when the expression is no such ratio or its numerator is guarded.
 */
export function absentNumerator(expr: string, subsetOnly: boolean): { offset: number; metric: string } | undefined {
  const root = parse(expr);
  if (!root) return undefined;
  const division = operands(strip(root));
  if (!division || division.op !== 'Div') return undefined;
  const numerator = strip(division.left);
  if (operands(numerator)?.op === 'Or') return undefined;
  const top = selectorsIn(numerator, expr);
  const bottom = selectorsIn(division.right, expr);
  if (top.length === 0 || bottom.length === 0) return undefined;
  for (const s of top) {
    const same = bottom.find((b) => b.metric === s.metric);
    if (same) {
      // The same counter, narrowed by a matcher the denominator lacks: status="error", result="hit".
      const extra = s.matchers.find(
        (m) =>
          (m.op === '=' || m.op === '=~') &&
          !same.matchers.some((o) => o.label === m.label && o.op === m.op && o.value === m.value),
      );
      if (extra) return { offset: s.offset, metric: s.metric };
    } else if (!subsetOnly) {
      // A counter of its own (guardrail triggers over requests): it exists once the first event happened.
      return { offset: s.offset, metric: s.metric };
    }
  }
  return undefined;
}
