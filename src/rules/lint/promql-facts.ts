/**
 * What the guide's lint rules need to know about a PromQL expression, read with the Prometheus project's grammar:
 * which labels it names and where, which metrics it selects, which quantiles it takes, and whether the numerator of
 * a ratio can be absent.
 */
import type { SyntaxNode } from '@lezer/common';
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

/** Visits a node and everything below it, in order. */
export function walk(node: SyntaxNode, visit: (n: SyntaxNode) => void): void {
  visit(node);
  for (let c = node.firstChild; c; c = c.nextSibling) walk(c, visit);
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

/** Every label the expression names: in selectors, `by`/`without` clauses and `on`/`ignoring` vector matching. */
export function labelUses(expr: string): LabelUse[] {
  const root = parse(expr);
  if (!root) return [];
  const out: LabelUse[] = [];
  walk(root, (n) => {
    if (n.name === 'UnquotedLabelMatcher' || n.name === 'QuotedLabelMatcher') {
      const name = n.getChild('LabelName') ?? n.getChild('QuotedLabelName');
      if (name)
        out.push({
          label:
            name.name === 'QuotedLabelName' ? unquote(expr.slice(name.from, name.to)) : expr.slice(name.from, name.to),
          offset: name.from,
          as: 'matcher',
        });
    }
    if (n.name === 'AggregateModifier' || n.name === 'MatchingModifierClause') {
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
        if (l.name === 'LabelName') out.push({ label: expr.slice(l.from, l.to), offset: l.from, as: kind });
        if (l.name === 'QuotedLabelName')
          out.push({ label: unquote(expr.slice(l.from, l.to)), offset: l.from, as: kind });
      }
    }
  });
  return out;
}

function selectorsIn(node: SyntaxNode, expr: string): SelectorFact[] {
  const out: SelectorFact[] = [];
  walk(node, (n) => {
    if (n.name !== 'VectorSelector') return;
    const id = n.getChild('Identifier');
    const matchers: SelectorFact['matchers'] = [];
    let metric = id ? expr.slice(id.from, id.to) : '';
    const list = n.getChild('LabelMatchers');
    for (let m = list?.firstChild ?? null; m; m = m.nextSibling) {
      const name = m.getChild('LabelName');
      const op = m.getChild('MatchOp');
      const value = m.getChild('StringLiteral');
      if (!op || !value) continue;
      const label = name ? expr.slice(name.from, name.to) : '__name__';
      const text = unquote(expr.slice(value.from, value.to));
      if (m.name === 'QuotedLabelMatcher' && !name) {
        metric = text;
        continue;
      }
      if (label === '__name__' && expr.slice(op.from, op.to) === '=') metric = text;
      else matchers.push({ label, op: expr.slice(op.from, op.to), value: text });
    }
    out.push({ metric, offset: n.from, matchers });
  });
  return out;
}

/** The metrics an expression selects. */
export function selectors(expr: string): SelectorFact[] {
  const root = parse(expr);
  return root ? selectorsIn(root, expr) : [];
}

/** The quantiles of the `histogram_quantile` calls in an expression (numbers only). */
export function quantiles(expr: string): number[] {
  const root = parse(expr);
  if (!root) return [];
  const out: number[] = [];
  walk(root, (n) => {
    if (n.name !== 'FunctionCall') return;
    const id = n.getChild('FunctionIdentifier');
    if (!id || expr.slice(id.from, id.to) !== 'histogram_quantile') return;
    const first = n.getChild('FunctionCallBody')?.firstChild;
    if (first?.name === 'NumberDurationLiteral') out.push(Number(expr.slice(first.from, first.to)));
  });
  return out;
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
