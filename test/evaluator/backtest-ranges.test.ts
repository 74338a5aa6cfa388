/**
 * A backtest makes the quotient `A / B` of a threshold SLO from the answers of A and B when its ratio SLOs read them
 * anyway: the series must be what Prometheus answers for the quotient itself, point for point (gaps, 0/0, x/0
 * included), and A and B are asked once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BacktestRanges, splitQuotient } from '../../src/evaluator/backtest-ranges.js';
import { PrometheusClient, prometheusConfigFromEnv } from '../../src/evaluator/index.js';
import type { RangeSeries } from '../../src/evaluator/prometheus.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import type { SeriesHistory } from '../../src/local/openmetrics.js';

const MIN = 60_000;
const FROM = Date.parse('2026-09-01T00:00:00Z');
const TO = FROM + 2 * 24 * 60 * MIN;

describe('splitQuotient', () => {
  it.each([
    ['sum(rate(x{a="/"}[5m])) / sum(rate(y[5m]))', ['sum(rate(x{a="/"}[5m]))', 'sum(rate(y[5m]))']],
    [
      'sum by (app) (rate(x[5m]))/sum by (app) (rate(y[5m]))',
      ['sum by (app) (rate(x[5m]))', 'sum by (app) (rate(y[5m]))'],
    ],
    ['sum(x) without (b) / count(y) without (b)', ['sum(x) without (b)', 'count(y) without (b)']],
    ["max(x{a='(}'}) / min(y{b=`\"`})", ["max(x{a='(}'})", 'min(y{b=`"`})']],
  ])('splits %s', (query, sides) => {
    expect(splitQuotient(query)).toEqual(sides);
  });

  it.each([
    'rate(x[5m]) / rate(y[5m])',
    'x / y',
    'sum(x) / sum(y) / sum(z)',
    'sum(x) / on(a) sum(y)',
    'sum(x) / ignoring(a) group_left sum(y)',
    'sum(x) + sum(y) / sum(z)',
    'sum(x) / sum(y) > 0.1',
    'sum(x) / 2',
    'scalar(x) / sum(y)',
    'topk(1, x) / sum(y)',
    'sum(x) offset 5m / sum(y)',
    'sum(x) / sum(y) # a comment',
    '(sum(x) / sum(y))',
    'sum(x{a="unclosed) / sum(y)',
  ])('leaves %s to Prometheus', (query) => {
    expect(splitQuotient(query)).toBeUndefined();
  });
});

/** A counter's samples every minute over [FROM, TO]: `increase(t)` added at each, none where it gives undefined. */
function counter(name: string, labels: Record<string, string>, increase: (t: number) => number | undefined) {
  const samples: Array<[number, number]> = [];
  let value = 0;
  for (let t = FROM; t <= TO; t += MIN) {
    const add = increase(t);
    if (add === undefined) continue;
    value += add;
    samples.push([t, value]);
  }
  return { name, labels, samples } satisfies SeriesHistory;
}

const hour = (t: number) => Math.floor((t - FROM) / (60 * MIN));

let prom: LocalPrometheus;
beforeAll(async () => {
  prom = await startPrometheus({
    history: [
      counter('req_total', { app: 'a' }, (t) => (hour(t) % 7 === 3 ? 0 : 100 + (t % 13))),
      counter('req_total', { app: 'b' }, (t) => 50 + (t % 5)),
      // No errors in every other hour without requests: 0/0 there, x/0 in the others.
      counter('err_total', { app: 'a' }, (t) =>
        hour(t) % 5 === 1 ? undefined : hour(t) % 14 === 3 ? 0 : (t / MIN) % 3,
      ),
      counter('err_total', { app: 'b' }, (t) => (hour(t) % 11 === 2 ? 5 : 0)),
    ],
  });
});
afterAll(() => prom?.stop());

const plain = (series: RangeSeries[]) =>
  series.map((s) => ({ labels: s.labels, times: [...s.times], values: [...s.values] }));

describe('BacktestRanges', () => {
  const A = 'sum(rate(err_total{app="a"}[5m]))';
  const B = 'sum(rate(req_total{app="a"}[5m]))';
  const span = { start: FROM + 60 * MIN, end: TO, stepMs: MIN };
  const start = FROM + 6 * 60 * MIN;

  it('makes the quotient of two ranges it reads anyway, as Prometheus answers it', async () => {
    const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
    const direct = await client.range(`${A} / ${B}`, start, TO, MIN);
    const values = direct.flatMap((s) => [...s.values]);
    // Not vacuous: the answer has gaps (no errors counted), 0/0 (NaN) and x/0 (±Inf).
    expect(values.some(Number.isNaN)).toBe(true);
    expect(values.some((v) => v === Infinity)).toBe(true);
    expect(values.filter((v) => !Number.isNaN(v)).length).toBeGreaterThan(1000);
    expect(direct[0]!.times.length).toBeLessThan((TO - start) / MIN);

    const ranges = new BacktestRanges(
      client,
      [
        { query: A, span },
        { query: B, span },
      ],
      [`${A} / ${B}`],
    );
    const before = client.queries;
    const [a, b, quotient] = await Promise.all([
      ranges.range(A, span.start, span.end, span.stepMs),
      ranges.range(B, span.start, span.end, span.stepMs),
      ranges.range(`${A} / ${B}`, start, TO, MIN),
    ]);
    expect(plain(quotient)).toEqual(plain(direct));
    expect(ranges.derived).toBe(1);
    // A and B once each (in chunks of 10,000 points): nothing more for the quotient.
    expect(client.queries - before).toBe(2 * Math.ceil(((span.end - span.start) / MIN + 1) / 10_000));
    expect(plain(a)).toEqual(plain(await client.range(A, span.start, span.end, span.stepMs)));
    expect(plain(b)).toEqual(plain(await client.range(B, span.start, span.end, span.stepMs)));
  });

  it('asks Prometheus for a quotient of several series, and for one whose sides it does not read', async () => {
    const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
    const byApp = (m: string) => `sum by (app) (rate(${m}[5m]))`;
    const query = `${byApp('err_total')} / ${byApp('req_total')}`;
    const ranges = new BacktestRanges(
      client,
      [
        { query: byApp('err_total'), span },
        { query: byApp('req_total'), span },
      ],
      [query, `${A} / ${B}`],
    );
    const several = await ranges.range(query, start, TO, MIN);
    expect(several.map((s) => s.labels.app).sort()).toEqual(['a', 'b']);
    expect(plain(several)).toEqual(plain(await client.range(query, start, TO, MIN)));
    expect(plain(await ranges.range(`${A} / ${B}`, start, TO, MIN))).toEqual(
      plain(await client.range(`${A} / ${B}`, start, TO, MIN)),
    );
    expect(ranges.derived).toBe(0);
  });

  it('asks Prometheus for a quotient on another step grid than its sides were read on', async () => {
    const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
    const ranges = new BacktestRanges(
      client,
      [
        { query: A, span },
        { query: B, span },
      ],
      [`${A} / ${B}`],
    );
    const quotient = await ranges.range(`${A} / ${B}`, start + 30_000, TO, MIN);
    expect(plain(quotient)).toEqual(plain(await client.range(`${A} / ${B}`, start + 30_000, TO, MIN)));
    expect(quotient[0]!.times.length).toBeGreaterThan(1000);
    expect(ranges.derived).toBe(0);
  });
});
