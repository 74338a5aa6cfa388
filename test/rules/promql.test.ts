import { describe, expect, it } from 'vitest';
import { checkPromql } from '../../src/rules/promql.js';

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
