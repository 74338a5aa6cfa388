/**
 * A range query's body is read into typed arrays straight from Prometheus' text, and through JSON.parse whenever the
 * text is not in the one shape Prometheus writes: both give the same series, down to NaN, ±Inf and fractional
 * seconds, and errors or bodies that are not JSON come back as axios would give them.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MatrixSeries, parseRangeBody, readRangeBody } from '../../src/evaluator/range-body.js';

type Point = [number, string];
type Raw = Array<{ metric: Record<string, string>; values: Point[] }>;

const body = (result: Raw, extra: Record<string, unknown> = {}) => ({
  status: 'success',
  data: { resultType: 'matrix', result },
  ...extra,
});

/** A value as Prometheus means it: parseFloat's, but for "+Inf" and "-Inf", which parseFloat reads as NaN. */
const meant = (v: string) => (v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : parseFloat(v));

/** What the series must be: each point's time in ms and its value as Prometheus means it. */
function expected(result: Raw): Array<{ metric: Record<string, string>; times: number[]; values: number[] }> {
  return result.map((r) => ({
    metric: r.metric,
    times: r.values.map(([t]) => Math.round(t * 1000)),
    values: r.values.map(([, v]) => meant(v)),
  }));
}

function plain(parsed: unknown) {
  const result = (parsed as { data: { result: MatrixSeries[] } }).data.result;
  return result.map((r) => ({ metric: r.metric, times: [...r.times], values: [...r.values] }));
}

const TRICKY: Raw = [
  {
    metric: { __name__: 'up', job: 'a"b', path: '/x}{', note: 'back\\slash "quoted" {braces}' },
    values: [
      [1790553900, '9.19'],
      [1790553960.5, 'NaN'],
      [1790554020.125, '+Inf'],
      [1790554080, '-Inf'],
      [1790554140, '1e-7'],
    ],
  },
  { metric: {}, values: [] },
  {
    metric: { app: 'ünïcode ✓' },
    values: [
      [1, '0'],
      [2, '-0.5'],
    ],
  },
];

describe('parseRangeBody', () => {
  it.each([
    ['a compact body (the shape Prometheus writes)', JSON.stringify(body(TRICKY))],
    ['an indented body (read by JSON.parse)', JSON.stringify(body(TRICKY), null, 2)],
    ['a body with warnings after the data', JSON.stringify(body(TRICKY, { warnings: ['careful'] }))],
  ])('reads %s into the same series', (_, text) => {
    expect(plain(parseRangeBody(text))).toEqual(expected(TRICKY));
  });

  it('reads an empty matrix', () => {
    expect(plain(parseRangeBody(JSON.stringify(body([]))))).toEqual([]);
  });

  it('keeps the warnings of a body it reads through JSON.parse', () => {
    expect(parseRangeBody(JSON.stringify(body(TRICKY, { warnings: ['careful'] })))).toMatchObject({
      warnings: ['careful'],
    });
  });

  it('reads a series with native histograms through JSON.parse, its float points in typed arrays', () => {
    const text = JSON.stringify({
      status: 'success',
      data: {
        resultType: 'matrix',
        result: [{ metric: { a: 'b' }, values: [[5, '1']], histograms: [[6, { count: '1' }]] }],
      },
    });
    expect(plain(parseRangeBody(text))).toEqual([{ metric: { a: 'b' }, times: [5000], values: [1] }]);
  });

  it.each([
    [
      'an error',
      JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' }),
      { status: 'error', errorType: 'bad_data', error: 'parse error' },
    ],
    [
      'a vector',
      JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }),
      { status: 'success', data: { resultType: 'vector', result: [] } },
    ],
    ['a body that is not JSON', '<html>502 Bad Gateway</html>', '<html>502 Bad Gateway</html>'],
    ['a truncated matrix', JSON.stringify(body(TRICKY)).slice(0, 80), JSON.stringify(body(TRICKY)).slice(0, 80)],
  ])('gives %s back as JSON.parse (or axios) would', (_, text, want) => {
    expect(parseRangeBody(text)).toEqual(want);
  });

  it('reads any matrix the same way compact and indented', () => {
    const point = fc.tuple(
      fc.integer({ min: 0, max: 4_000_000_000_000 }).map((ms) => ms / 1000),
      fc.oneof(fc.double().map(String), fc.constantFrom('NaN', '+Inf', '-Inf')),
    );
    const series = fc.record({
      metric: fc.dictionary(fc.string(), fc.string(), { maxKeys: 4 }),
      values: fc.array(point, { maxLength: 30 }),
    });
    fc.assert(
      fc.property(fc.array(series, { maxLength: 5 }), (result) => {
        const want = expected(result);
        expect(plain(parseRangeBody(JSON.stringify(body(result))))).toEqual(want);
        expect(plain(parseRangeBody(JSON.stringify(body(result), null, 1)))).toEqual(want);
      }),
    );
  });

  it('reads every decimal as parseFloat does, around 2^53 and 22 decimals (where reading digit by digit stops)', () => {
    // Digits with a point anywhere (or none), a sign, leading zeros: the forms Prometheus writes values in.
    const decimal = fc
      .tuple(
        fc.boolean(),
        fc.oneof(
          fc.bigInt({ min: 0n, max: 10n ** 18n }),
          fc.bigInt({ min: 2n ** 53n - 1000n, max: 2n ** 53n + 1000n }),
          fc.constantFrom(0n, 5n, 9007199254740993n, 4503599627370497n),
        ),
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 0, max: 3 }),
      )
      .map(([negative, digits, point, zeros]) => {
        const text = '0'.repeat(zeros) + digits.toString();
        const at = Math.max(0, text.length - point);
        const placed = point === 0 ? text : `${text.slice(0, at) || '0'}.${text.slice(at).padStart(point, '0')}`;
        return (negative ? '-' : '') + placed;
      });
    fc.assert(
      fc.property(fc.array(decimal, { minLength: 1, maxLength: 20 }), (values) => {
        const result: Raw = [{ metric: {}, values: values.map((v, k): Point => [k, v]) }];
        const read = plain(parseRangeBody(JSON.stringify(body(result))))[0]!.values;
        values.forEach((v, k) => expect(Object.is(read[k], parseFloat(v)), `${v}: ${read[k]}`).toBe(true));
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['gzip-compressed', (text: string) => gzipSync(text), { 'content-encoding': 'gzip' }],
    ['uncompressed', (text: string) => Buffer.from(text), {}],
  ])('reads a %s body from its bytes', (_, encode, headers) => {
    const text = JSON.stringify(body(TRICKY));
    expect(plain(readRangeBody(encode(text), headers))).toEqual(expected(TRICKY));
    expect(readRangeBody(encode('{"status":"error","error":"x"}'), headers)).toEqual({ status: 'error', error: 'x' });
  });
});
