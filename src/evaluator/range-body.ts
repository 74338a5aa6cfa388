/**
 * Reads the body of a Prometheus range query (`/api/v1/query_range`) into typed arrays. A month at a one-minute step
 * is 40,000 points per series; `JSON.parse` would make an array and a string of each, only for them to be copied
 * into Float64Arrays and dropped. The body Prometheus writes has one fixed shape — `{"status":"success","data":
 * {"resultType":"matrix","result":[{"metric":{…},"values":[[1790553900,"9.19"],…]},…]}` — and that shape is read
 * here directly from its bytes: the label sets with `JSON.parse`, each point's time and value digit by digit. Anything else (an
 * error, warnings, native histograms, whitespace) is read by `JSON.parse` and converted the same way, so the two
 * paths give the same series.
 */
import { gunzipSync } from 'node:zlib';
import type { Labels } from './labels.js';

/** One series of a matrix answer, its labels as Prometheus sent them (`__name__` included). */
export interface MatrixSeries {
  metric: Labels;
  /** Unix ms. */
  times: Float64Array;
  values: Float64Array;
}

interface MatrixBody {
  status: 'success';
  data: { resultType: 'matrix'; result: MatrixSeries[] };
}

const HEAD_TEXT = '{"status":"success","data":{"resultType":"matrix","result":[';
const HEAD = Buffer.from(HEAD_TEXT);
const METRIC = Buffer.from('{"metric":');
const VALUES = Buffer.from(',"values":[');

/**
 * Reads a query_range body as it came over the wire (bytes, gzip-compressed when Prometheus says so): decompressed
 * in one call rather than through a stream of small chunks, then read from its bytes as parseRangeBody reads its text.
 */
export function readRangeBody(data: unknown, headers?: Record<string, unknown>): unknown {
  if (!Buffer.isBuffer(data)) return parseRangeBody(data);
  const encoding = String(headers?.['content-encoding'] ?? '').toLowerCase();
  const bytes = encoding === 'gzip' || encoding === 'x-gzip' ? gunzipSync(data) : data;
  return scanMatrix(bytes) ?? parseJson(bytes.toString('utf8'));
}

/**
 * Reads a query_range body: a matrix answer with its series in typed arrays, anything else as JSON.parse reads it;
 * a body that is not JSON comes back as it is (what axios does with one).
 */
export function parseRangeBody(text: unknown): unknown {
  if (typeof text !== 'string') return text;
  return (text.startsWith(HEAD_TEXT) ? scanMatrix(Buffer.from(text)) : undefined) ?? parseJson(text);
}

function parseJson(text: string): unknown {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return text;
  }
  return fromJson(body);
}

/** A parsed body with its matrix (if it is one) converted to typed arrays. */
function fromJson(body: unknown): unknown {
  const b = body as { status?: unknown; data?: { resultType?: unknown; result?: unknown } };
  if (b?.status !== 'success' || b.data?.resultType !== 'matrix' || !Array.isArray(b.data.result)) return body;
  const result = (b.data.result as Array<{ metric?: Labels; values?: Array<[number, string]> }>).map(
    (r): MatrixSeries => {
      const points = r.values ?? [];
      const times = new Float64Array(points.length);
      const values = new Float64Array(points.length);
      for (let k = 0; k < points.length; k++) {
        times[k] = toMs(points[k]![0]);
        values[k] = sampleValue(points[k]![1]);
      }
      return { metric: r.metric ?? {}, times, values };
    },
  );
  return { ...b, data: { ...b.data, result } };
}

const toMs = (seconds: number) => Math.round(seconds * 1000);

/**
 * A sample value as Prometheus writes it: a decimal, "NaN", "+Inf" or "-Inf" (which parseFloat reads as NaN: a
 * cost per request over no requests would then read as missing data, not as a breach).
 */
export function sampleValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return parseFloat(text);
}

/** Whether the bytes at `at` are `expected`. */
function startsWith(b: Buffer, expected: Buffer, at: number): boolean {
  if (at + expected.length > b.length) return false;
  for (let k = 0; k < expected.length; k++) if (b[at + k] !== expected[k]) return false;
  return true;
}

/** Powers of ten a double holds exactly (up to 1e22). */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));
/** Integers below it add up digit by digit exactly; from it on, a digit may be rounded away. */
const MAX_EXACT = 2 ** 53;

/**
 * The fixed shape read from the bytes (UTF-8: the bytes of a multi-byte character never look like the ASCII read
 * here); undefined at the first byte that does not fit it (JSON.parse then reads the body).
 *
 * A value below 2^53 as an integer once its point is dropped, with at most 22 decimals, is that integer divided
 * by a power of ten: both are exact doubles, so the one rounding of the division gives what parseFloat gives
 * (Clinger's fast path). Any other value (17 digits, an exponent, NaN, ±Inf) is read by sampleValue.
 */
function scanMatrix(t: Buffer): MatrixBody | undefined {
  if (!startsWith(t, HEAD, 0)) return undefined;
  const result: MatrixSeries[] = [];
  let i = HEAD.length;
  let { times, values } = scratch;
  if (t[i] !== 93 /* ] */) {
    for (;;) {
      if (!startsWith(t, METRIC, i)) return undefined;
      const start = i + METRIC.length;
      const end = objectEnd(t, start);
      if (end < 0) return undefined;
      const metric = JSON.parse(t.toString('utf8', start, end)) as Labels;
      if (!startsWith(t, VALUES, end)) return undefined;
      i = end + VALUES.length;
      let n = 0;
      if (t[i] !== 93) {
        for (;;) {
          // [1790553900,"9.19"] or [1790553900.5,"NaN"]: seconds with at most 3 decimals, in ms exactly.
          if (t[i] !== 91 /* [ */) return undefined;
          let j = i + 1;
          let c = t[j]!;
          if (!(c >= 48 && c <= 57)) return undefined;
          let ms = 0;
          do {
            ms = ms * 10 + (c - 48);
            c = t[++j]!;
          } while (c >= 48 && c <= 57);
          ms *= 1000;
          if (c === 46 /* . */) {
            let scale = 100;
            c = t[++j]!;
            if (!(c >= 48 && c <= 57)) return undefined;
            do {
              if (scale < 1) return undefined;
              ms += (c - 48) * scale;
              scale /= 10;
              c = t[++j]!;
            } while (c >= 48 && c <= 57);
          }
          if (c !== 44 /* , */ || t[j + 1] !== 34 /* " */) return undefined;
          const from = j + 2;
          j = from;
          c = t[j]!;
          const negative = c === 45; /* - */
          if (negative) c = t[++j]!;
          let m = 0;
          let digits = 0;
          // Digits after the point; -1 before it.
          let decimals = -1;
          for (;;) {
            if (c >= 48 && c <= 57) {
              m = m * 10 + (c - 48);
              digits++;
              if (decimals >= 0) decimals++;
            } else if (c === 46 && decimals < 0) decimals = 0;
            else break;
            c = t[++j]!;
          }
          let value: number;
          if (c === 34 && digits > 0 && decimals !== 0 && m < MAX_EXACT && decimals <= 22) {
            value = decimals > 0 ? m / POW10[decimals]! : m;
            if (negative) value = -value;
          } else {
            const close = t.indexOf(34, j);
            if (close < 0) return undefined;
            value = sampleValue(t.toString('latin1', from, close));
            j = close;
          }
          if (t[j + 1] !== 93) return undefined;
          if (n === times.length) {
            times = grow(times);
            values = grow(values);
            scratch = { times, values };
          }
          times[n] = ms;
          values[n] = value;
          n++;
          i = j + 2;
          const next = t[i];
          if (next === 44) i++;
          else if (next === 93) break;
          else return undefined;
        }
      }
      // ]} closes the values and the series.
      if (t[i] !== 93 || t[i + 1] !== 125 /* } */) return undefined;
      i += 2;
      result.push({ metric, times: times.slice(0, n), values: values.slice(0, n) });
      const next = t[i];
      if (next === 44) i++;
      else if (next === 93) break;
      else return undefined;
    }
  }
  // ]}} closes the result, the data and the body.
  return t.length === i + 3 && t[i] === 93 && t[i + 1] === 125 && t[i + 2] === 125
    ? { status: 'success', data: { resultType: 'matrix', result } }
    : undefined;
}

/** The growing arrays points are read into before each series is copied out: kept from one body to the next. */
let scratch = { times: new Float64Array(16_384), values: new Float64Array(16_384) };

function grow(a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

/** The index just past the JSON object starting at `start` (strings and their escapes skipped), or -1. */
function objectEnd(t: Buffer, start: number): number {
  if (t[start] !== 123 /* { */) return -1;
  let depth = 0;
  for (let j = start; j < t.length; j++) {
    const c = t[j];
    if (c === 34 /* " */) {
      for (j++; j < t.length && t[j] !== 34; j++) if (t[j] === 92 /* \ */) j++;
    } else if (c === 123) depth++;
    else if (c === 125 && --depth === 0) return j + 1;
  }
  return -1;
}
