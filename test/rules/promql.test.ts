import { parser } from '@prometheus-io/lezer-promql';
import type { Tree } from '@lezer/common';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkPromql, literalShape, parsePromql } from '../../src/rules/promql.js';

describe('PromQL checks', () => {
  it.each([
    'histogram_quantile(0.95, sum by (le) (rate(llm_request_duration_seconds_bucket{app="assistant"}[5m])))',
    'sum(rate(x{status="error"}[5m])) / sum(rate(x[5m]))',
    'avg_over_time(avg(llm_online_eval_score{app="assistant"})[7d:1h] offset 1d)',
    'topk(3, sum by (model) (rate(x[1h])))',
    'max(queue_depth) > 200',
    'label_replace(up, "a", "$1", "job", "(.*)")',
    'quantile_over_time(0.9, x[1h])',
    'vector(1)',
    '-sum(x) @ end()',
  ])('%s is valid', (q) => {
    expect(checkPromql(q).issues).toEqual([]);
  });

  it.each([
    ['a missing closing parenthesis', 'sum(rate(x[5m])', 15, 'unexpected end of input'],
    ['an unknown function', 'sum(rat(x[5m]))', 4, 'unknown function "rat"'],
    [
      'an instant vector where a range is needed',
      'rate(x)',
      5,
      'expected type range vector in call to function "rate", got instant vector',
    ],
    [
      'a range vector in an aggregation',
      'sum(x[5m])',
      4,
      'expected type instant vector in aggregation expression, got range vector',
    ],
    [
      'a range vector in arithmetic',
      'x[5m] / 2',
      0,
      'binary expression must contain only scalar and instant vector types',
    ],
    ['too many arguments', 'rate(x[5m], 1)', 0, 'expected 1 argument(s) in call to "rate", got 2'],
    ['a stray token', 'sum(x) foo', 7, 'unexpected "foo"'],
  ])('reports %s', (_name, q, offset, message) => {
    expect(checkPromql(q).issues[0]).toEqual({ offset, message });
  });

  it('lists the labels a query groups by, with their offsets', () => {
    const q = 'sum by (model, user_id) (rate(x[5m])) / on(model) sum by ("session_id") (rate(y[5m]))';
    expect(checkPromql(q).groupedBy).toEqual([
      { label: 'model', offset: q.indexOf('model') },
      { label: 'user_id', offset: q.indexOf('user_id') },
      { label: 'session_id', offset: q.indexOf('"session_id"') },
    ]);
  });

  it('does not count `without` or `on` as grouping', () => {
    expect(checkPromql('sum without (user_id) (x) / on(user_id) y').groupedBy).toEqual([]);
  });
});

/** Every node of a tree with its position: two trees are the same when these are. */
function nodes(tree: Tree): string[] {
  const out: string[] = [];
  tree.iterate({ enter: (n) => void out.push(`${n.name}:${n.from}-${n.to}`) });
  return out;
}

describe('PromQL trees shared by expressions of one shape', () => {
  it('blanks the text inside literals, and keeps literals with escapes, line breaks or no end as written', () => {
    expect(literalShape('sum(rate(x{app="svc-1", slo=\'3\'}[5m]))')).toBe('sum(rate(x{app="xxxxx", slo=\'x\'}[5m]))');
    expect(literalShape('label_replace(up, "a", `$1`, "job", "")')).toBe('label_replace(up, "x", `xx`, "xxx", "")');
    expect(literalShape('x{a="b"} # "c" \n + y{d="e"}')).toBe('x{a="x"} # "c" \n + y{d="x"}');
    expect(literalShape('x{a="b\\"c"}')).toBe('x{a="b\\"c"}');
    expect(literalShape('x{a="b')).toBe('x{a="b');
    expect(literalShape('x{a="b\nc"}')).toBe('x{a="b\nc"}');
    expect(literalShape('x{a="b"} + `c\nd`')).toBe('x{a="x"} + `c\nd`');
  });

  it('gives every expression the tree the parser gives it, node for node', () => {
    const piece = fc.constantFrom(
      'sum by (le) (rate(x_bucket{app=',
      '"svc-1"',
      "'a'",
      '`b\\c`',
      '"q\\"r"',
      '"unclosed',
      "'",
      '"',
      '`',
      '}[5m]))',
      ' / ',
      'x{a=~"f.*"}',
      ' # "note\n',
      '\n',
      '\\',
      ', ',
      'histogram_quantile(0.9, ',
      ')',
      '{',
      'label_replace(up, "a", "$1", "job", "(.*)")',
    );
    const literal = fc.string({
      unit: fc.constantFrom('a', '"', "'", '`', '\\', '\n', '#', ' ', 'é', '😀'),
      maxLength: 6,
    });
    const expr = fc.array(fc.oneof(piece, literal), { maxLength: 12 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(expr, (e) => {
        expect(nodes(parsePromql(e))).toEqual(nodes(parser.parse(e)));
      }),
      { numRuns: 2000, seed: 20261128 },
    );
  });

  it('parses expressions that differ only inside their literals once', () => {
    const a = parsePromql('sum(rate(shape_probe_total{app="svc-10", slo="1"}[5m]))');
    const b = parsePromql('sum(rate(shape_probe_total{app="svc-42", slo="7"}[5m]))');
    expect(b).toBe(a);
    expect(checkPromql('sum(rate(shape_probe_total{app="svc-42", slo="7"}[5m]))').issues).toEqual([]);
  });

  it('reads quoted label names from each expression, and gives every expression of a shape its type problems', () => {
    expect(checkPromql('sum by ("tenant") (rate(x{app="a"}[5m]))').groupedBy).toEqual([{ label: 'tenant', offset: 8 }]);
    expect(checkPromql('sum by ("region") (rate(x{app="b"}[5m]))').groupedBy).toEqual([{ label: 'region', offset: 8 }]);
    const problem = [
      { offset: 5, message: 'expected type range vector in call to function "rate", got instant vector' },
    ];
    expect(checkPromql('rate(x{app="svc-1"})').issues).toEqual(problem);
    expect(checkPromql('rate(x{app="svc-2"})').issues).toEqual(problem);
  });

  it('reports a syntax error at the position in the expression as written', () => {
    expect(checkPromql('sum(rate(x{app="svc-1"}[5m])) +').issues).toEqual([
      { offset: 31, message: 'unexpected end of input' },
    ]);
    expect(checkPromql('sum(rate(x{app="a b"}[5m])) ) ').issues).toEqual(
      checkPromql('sum(rate(x{app="c d"}[5m])) ) ').issues,
    );
  });
});
