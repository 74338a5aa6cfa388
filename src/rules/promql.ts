/**
 * PromQL checks with the Prometheus project's own grammar (@prometheus-io/lezer-promql): syntax errors, the types
 * of function and aggregation arguments, and the labels a query groups by.
 */
import { parser } from '@prometheus-io/lezer-promql';
import type { SyntaxNode, Tree } from '@lezer/common';
import { BoundedMap } from '../util/bounded-map.js';
import { fillWindow } from './window.js';

/**
 * A ratio query's `$window` as the parser sees it: a range of the same length, so offsets into the parsed text are
 * offsets into the text as written, and the check and the lint rules parse the same string.
 */
export const withWindowStandIn = (expr: string): string => fillWindow(expr, '000005m');

/** Trees kept (about 1 KB each): `validate` of a few thousand SLOs parses each expression once for the check and its lint rules. */
const MAX_TREES = 4096;
/** The tree of each text (the parser's tree of that text, or one equal to it). */
const trees = new BoundedMap<string, Tree>(MAX_TREES);

function parseCached(text: string): Tree {
  let tree = trees.get(text);
  if (tree === undefined) {
    tree = parser.parse(text);
    trees.set(text, tree);
  }
  return tree;
}

/**
 * The expression with the text inside each string literal replaced by as many `x`s: the shape the parser sees. A
 * literal's content is one token whatever it holds, so two expressions that differ only there (`app="svc-1"`,
 * `app="svc-2"`) have the same tree, with the same offsets. Literals holding a backslash or a line break are kept
 * as written, and so is an expression whose quotes do not close.
 */
export function literalShape(expr: string): string {
  let out = '';
  let from = 0;
  const special = /["'`#]/g;
  for (let m = special.exec(expr); m; m = special.exec(expr)) {
    const start = m.index;
    const quote = m[0];
    if (quote === '#') {
      // A comment runs to the end of the line; quotes inside it are no literals.
      const nl = expr.indexOf('\n', start);
      if (nl < 0) break;
      special.lastIndex = nl + 1;
      continue;
    }
    const end = expr.indexOf(quote, start + 1);
    if (end < 0) return expr;
    if (/[\\\n\r]/.test(expr.slice(start + 1, end))) {
      // An escape or a line break: in "…" and '…' the text decides where the literal ends.
      if (quote !== '`') return expr;
    } else if (end > start + 1) {
      out += expr.slice(from, start + 1) + 'x'.repeat(end - start - 1);
      from = end;
    }
    special.lastIndex = end + 1;
  }
  return from === 0 ? expr : out + expr.slice(from);
}

/** Whether a tree holds a syntax error, worked out once per tree. */
const broken = new WeakMap<Tree, boolean>();

/** Whether the tree of an expression holds a syntax error. */
export function hasSyntaxError(tree: Tree): boolean {
  let error = broken.get(tree);
  if (error === undefined) {
    error = false;
    tree.iterate({
      enter(n) {
        if (n.type.isError) error = true;
        return !error;
      },
    });
    broken.set(tree, error);
  }
  return error;
}

/**
 * The syntax tree of an expression. Expressions of one shape (literalShape) share a tree, parsed once while it is
 * among the last MAX_TREES parsed: a thousand SLOs that differ in their label values are a handful of parses. A
 * shape that does not parse cleanly is not trusted for the expression: that one is parsed as written, so the
 * positions of syntax errors are the expression's own.
 */
export function parsePromql(expr: string): Tree {
  const known = trees.get(expr);
  if (known !== undefined) return known;
  const shape = literalShape(expr);
  let tree = parseCached(shape);
  if (shape !== expr) {
    if (hasSyntaxError(tree)) tree = parser.parse(expr);
    trees.set(expr, tree);
  }
  return tree;
}

type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

/** A problem inside a PromQL expression, at a character offset of the expression. */
export interface PromqlIssue {
  offset: number;
  message: string;
}

/** What a PromQL check found. */
export interface PromqlInfo {
  issues: PromqlIssue[];
  /** Labels named in `by (…)` clauses of aggregations: the labels of the result series. */
  groupedBy: Array<{ label: string; offset: number }>;
}

const TYPE_NAMES: Record<ValueType, string> = {
  scalar: 'scalar',
  vector: 'instant vector',
  matrix: 'range vector',
  string: 'string',
};

interface Signature {
  args: ValueType[];
  /** How many of the trailing args may be left out (-1: the last arg repeats without limit). */
  optional?: number;
  variadic?: boolean;
  returns: ValueType;
}

const v = (...names: string[]): Record<string, Signature> =>
  Object.fromEntries(names.map((n) => [n, { args: ['vector'], returns: 'vector' } satisfies Signature]));
const m = (...names: string[]): Record<string, Signature> =>
  Object.fromEntries(names.map((n) => [n, { args: ['matrix'], returns: 'vector' } satisfies Signature]));
const clock = (...names: string[]): Record<string, Signature> =>
  Object.fromEntries(names.map((n) => [n, { args: ['vector'], optional: 1, returns: 'vector' } satisfies Signature]));

const FUNCTIONS: Record<string, Signature> = {
  ...v('abs', 'absent', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'ceil', 'cos', 'cosh', 'deg', 'exp'),
  ...v('floor', 'ln', 'log10', 'log2', 'rad', 'sgn', 'sin', 'sinh', 'sqrt', 'tan', 'tanh', 'timestamp', 'sort'),
  ...v('sort_desc', 'histogram_count', 'histogram_sum', 'histogram_avg', 'histogram_stddev', 'histogram_stdvar'),
  ...m('absent_over_time', 'avg_over_time', 'count_over_time', 'last_over_time', 'max_over_time', 'min_over_time'),
  ...m('present_over_time', 'stddev_over_time', 'stdvar_over_time', 'sum_over_time', 'changes', 'delta', 'deriv'),
  ...m('idelta', 'increase', 'irate', 'rate', 'resets', 'mad_over_time', 'first_over_time', 'ts_of_max_over_time'),
  ...m('ts_of_min_over_time', 'ts_of_last_over_time', 'ts_of_first_over_time'),
  ...clock('day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'hour', 'minute', 'month', 'year'),
  quantile_over_time: { args: ['scalar', 'matrix'], returns: 'vector' },
  predict_linear: { args: ['matrix', 'scalar'], returns: 'vector' },
  holt_winters: { args: ['matrix', 'scalar', 'scalar'], returns: 'vector' },
  double_exponential_smoothing: { args: ['matrix', 'scalar', 'scalar'], returns: 'vector' },
  clamp: { args: ['vector', 'scalar', 'scalar'], returns: 'vector' },
  clamp_max: { args: ['vector', 'scalar'], returns: 'vector' },
  clamp_min: { args: ['vector', 'scalar'], returns: 'vector' },
  round: { args: ['vector', 'scalar'], optional: 1, returns: 'vector' },
  histogram_quantile: { args: ['scalar', 'vector'], returns: 'vector' },
  histogram_fraction: { args: ['scalar', 'scalar', 'vector'], returns: 'vector' },
  label_join: { args: ['vector', 'string', 'string', 'string'], variadic: true, returns: 'vector' },
  label_replace: { args: ['vector', 'string', 'string', 'string', 'string'], returns: 'vector' },
  sort_by_label: { args: ['vector', 'string'], variadic: true, returns: 'vector' },
  sort_by_label_desc: { args: ['vector', 'string'], variadic: true, returns: 'vector' },
  scalar: { args: ['vector'], returns: 'scalar' },
  vector: { args: ['scalar'], returns: 'vector' },
  time: { args: [], returns: 'scalar' },
  pi: { args: [], returns: 'scalar' },
  info: { args: ['vector', 'vector'], optional: 1, returns: 'vector' },
};

/** Aggregations that take a parameter before the vector (`topk(5, x)`). */
const PARAMETER_AGGREGATIONS: Record<string, ValueType> = {
  topk: 'scalar',
  bottomk: 'scalar',
  limitk: 'scalar',
  limit_ratio: 'scalar',
  quantile: 'scalar',
  count_values: 'string',
};

/**
 * What checkPromql finds in a tree: where it names the labels it groups by (before a syntax error), its first syntax
 * error, and when it has none, its type problems.
 */
interface TreeFindings {
  groupedBy: Array<{ from: number; to: number; quoted: boolean }>;
  error?: { from: number; to: number };
  issues: PromqlIssue[];
}

/**
 * The findings of each tree, worked out once for all the expressions that share it (parsePromql). They are offsets,
 * and messages made of names outside literals (functions, aggregations): the same for every expression of the
 * shape. What is inside a literal (a quoted label name, the text a syntax error names) is read from each expression.
 */
const findings = new WeakMap<Tree, TreeFindings>();

function findingsOf(tree: Tree, expr: string): TreeFindings {
  let found = findings.get(tree);
  if (found !== undefined) return found;
  const groupedBy: TreeFindings['groupedBy'] = [];
  let error: TreeFindings['error'];
  tree.iterate({
    enter(node) {
      if (error) return false;
      if (node.type.isError) {
        error = { from: node.from, to: node.to };
        return false;
      }
      if (node.name === 'AggregateModifier') {
        const by = node.node.getChild('By');
        const labels = node.node.getChild('GroupingLabels');
        if (by && labels) {
          for (const l of labels.getChildren('LabelName')) groupedBy.push({ from: l.from, to: l.to, quoted: false });
          for (const l of labels.getChildren('QuotedLabelName'))
            groupedBy.push({ from: l.from, to: l.to, quoted: true });
        }
      }
      return undefined;
    },
  });
  const issues: PromqlIssue[] = [];
  const root = tree.topNode.firstChild;
  if (!error && root) typeOf(root, expr, issues);
  found = { groupedBy, ...(error ? { error } : {}), issues };
  findings.set(tree, found);
  return found;
}

/** Checks one PromQL expression. */
export function checkPromql(expr: string): PromqlInfo {
  const found = findingsOf(parsePromql(expr), expr);
  const groupedBy = found.groupedBy.map((l) => ({
    label: l.quoted ? expr.slice(l.from + 1, l.to - 1) : expr.slice(l.from, l.to),
    offset: l.from,
  }));
  if (found.error) return { issues: [describeSyntaxError(expr, found.error.from, found.error.to)], groupedBy };
  if (expr.trim() === '') return { issues: [{ offset: 0, message: 'empty expression' }], groupedBy };
  return { issues: [...found.issues], groupedBy };
}

function describeSyntaxError(expr: string, from: number, to: number): PromqlIssue {
  const end = expr.trimEnd().length;
  if (from >= end) return { offset: end, message: 'unexpected end of input' };
  const before = expr.slice(0, from).trimEnd();
  const ident = /([a-zA-Z_:][a-zA-Z0-9_:]*)$/.exec(before);
  if (ident && expr.slice(from).trimStart().startsWith('(') && !(ident[1]! in FUNCTIONS)) {
    return { offset: before.length - ident[1]!.length, message: `unknown function "${ident[1]}"` };
  }
  const rest = expr.slice(from).trimStart();
  const text = expr.slice(from, Math.max(to, from + 1)).trim();
  const token = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(rest)?.[0] ?? (text.slice(0, 1) || rest.slice(0, 1));
  return { offset: from + (expr.slice(from).length - rest.length), message: `unexpected ${JSON.stringify(token)}` };
}

const EXPRESSIONS = new Set([
  'AggregateExpr',
  'BinaryExpr',
  'FunctionCall',
  'MatrixSelector',
  'NumberDurationLiteral',
  'OffsetExpr',
  'ParenExpr',
  'StringLiteral',
  'SubqueryExpr',
  'UnaryExpr',
  'VectorSelector',
  'StepInvariantExpr',
  'AnchoredExpr',
  'SmoothedExpr',
]);

function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) if (EXPRESSIONS.has(c.name)) out.push(c);
  return out;
}

/** The value type of an expression; type errors are added to `issues`. */
function typeOf(node: SyntaxNode, expr: string, issues: PromqlIssue[]): ValueType {
  switch (node.name) {
    case 'NumberDurationLiteral':
      return 'scalar';
    case 'StringLiteral':
      return 'string';
    case 'VectorSelector':
      return 'vector';
    case 'MatrixSelector':
    case 'SubqueryExpr':
      for (const c of children(node)) {
        const t = typeOf(c, expr, issues);
        if (node.name === 'MatrixSelector' && t !== 'vector') {
          issues.push({ offset: node.from, message: 'ranges only allowed for vector selectors' });
        }
        if (node.name === 'SubqueryExpr' && t !== 'vector') {
          issues.push({ offset: c.from, message: `subquery is only allowed on instant vector, got ${TYPE_NAMES[t]}` });
        }
      }
      return 'matrix';
    case 'ParenExpr':
    case 'OffsetExpr':
    case 'StepInvariantExpr':
    case 'AnchoredExpr':
    case 'SmoothedExpr': {
      const inner = children(node)[0];
      return inner ? typeOf(inner, expr, issues) : 'vector';
    }
    case 'UnaryExpr': {
      const inner = children(node)[0];
      const t = inner ? typeOf(inner, expr, issues) : 'vector';
      if (t !== 'scalar' && t !== 'vector') {
        issues.push({
          offset: node.from,
          message: `unary expression only allowed on expressions of type scalar or instant vector, got ${TYPE_NAMES[t]}`,
        });
      }
      return t;
    }
    case 'BinaryExpr': {
      const types = children(node).map((c) => typeOf(c, expr, issues));
      if (types.some((t) => t !== 'scalar' && t !== 'vector')) {
        issues.push({
          offset: node.from,
          message: 'binary expression must contain only scalar and instant vector types',
        });
        return 'vector';
      }
      return types.every((t) => t === 'scalar') ? 'scalar' : 'vector';
    }
    case 'AggregateExpr': {
      const op = node.getChild('AggregateOp');
      const name = op ? expr.slice(op.from, op.to).toLowerCase() : '';
      const body = node.getChild('FunctionCallBody');
      const args = body ? children(body) : [];
      const param = PARAMETER_AGGREGATIONS[name];
      const expected: ValueType[] = param ? [param, 'vector'] : ['vector'];
      if (args.length !== expected.length) {
        issues.push({
          offset: node.from,
          message: `wrong number of arguments for aggregate expression provided, expected ${expected.length}, got ${args.length}`,
        });
        return 'vector';
      }
      args.forEach((arg, i) => {
        const t = typeOf(arg, expr, issues);
        const want = expected[i]!;
        if (t !== want) {
          issues.push({
            offset: arg.from,
            message: `expected type ${TYPE_NAMES[want]} in aggregation expression, got ${TYPE_NAMES[t]}`,
          });
        }
      });
      return 'vector';
    }
    case 'FunctionCall': {
      const id = node.getChild('FunctionIdentifier');
      const name = id ? expr.slice(id.from, id.to) : '';
      const body = node.getChild('FunctionCallBody');
      const args = body ? children(body) : [];
      const sig = FUNCTIONS[name];
      if (!sig) {
        for (const a of args) typeOf(a, expr, issues);
        return 'vector';
      }
      const min = sig.args.length - (sig.optional ?? 0);
      const max = sig.variadic ? Infinity : sig.args.length;
      if (args.length < min || args.length > max) {
        const expected = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
        issues.push({
          offset: node.from,
          message: `expected ${expected} argument(s) in call to "${name}", got ${args.length}`,
        });
      }
      args.forEach((arg, i) => {
        const t = typeOf(arg, expr, issues);
        const want = sig.args[Math.min(i, sig.args.length - 1)];
        if (want && t !== want) {
          issues.push({
            offset: arg.from,
            message: `expected type ${TYPE_NAMES[want]} in call to function "${name}", got ${TYPE_NAMES[t]}`,
          });
        }
      });
      return sig.returns;
    }
    default:
      return 'vector';
  }
}
