/**
 * Reads the body of a Prometheus range query (`/api/v1/query_range`) into typed arrays. A month at a one-minute step
 * is 40,000 points per series; `JSON.parse` would make an array and a string of each, only for them to be copied
 * into Float64Arrays and dropped. The body Prometheus writes has one fixed shape — `{"status":"success","data":
 * {"resultType":"matrix","result":[{"metric":{…},"values":[[1790553900,"9.19"],…]},…]}` — and that shape is read
 * here directly: the label sets with `JSON.parse`, each point's time and value from the text. Anything else (an
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

const HEAD = '{"status":"success","data":{"resultType":"matrix","result":[';
const METRIC = '{"metric":';
const VALUES = ',"values":[';

/**
 * Reads a query_range body as it came over the wire (bytes, gzip-compressed when Prometheus says so): decompressed
 * in one call rather than through a stream of small chunks, then read by parseRangeBody.
 */
export function readRangeBody(data: unknown, headers?: Record<string, unknown>): unknown {
  if (!Buffer.isBuffer(data)) return parseRangeBody(data);
  const encoding = String(headers?.['content-encoding'] ?? '').toLowerCase();
  const bytes = encoding === 'gzip' || encoding === 'x-gzip' ? gunzipSync(data) : data;
  return parseRangeBody(bytes.toString('utf8'));
}

/**
 * Reads a query_range body: a matrix answer with its series in typed arrays, anything else as JSON.parse reads it;
 * a body that is not JSON comes back as it is (what axios does with one).
 */
export function parseRangeBody(text: unknown): unknown {
  if (typeof text !== 'string') return text;
  if (text.startsWith(HEAD)) {
    const fast = scanMatrix(text);
    if (fast) return fast;
  }
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
        values[k] = parseFloat(points[k]![1]);
      }
      return { metric: r.metric ?? {}, times, values };
    },
  );
  return { ...b, data: { ...b.data, result } };
}

const toMs = (seconds: number) => Math.round(seconds * 1000);

/** The fixed shape read from the text; undefined at the first character that does not fit it (JSON.parse then reads it). */
function scanMatrix(t: string): MatrixBody | undefined {
  const result: MatrixSeries[] = [];
  let i = HEAD.length;
  let { times, values } = scratch;
  if (t.charCodeAt(i) !== 93 /* ] */) {
    for (;;) {
      if (!t.startsWith(METRIC, i)) return undefined;
      const start = i + METRIC.length;
      const end = objectEnd(t, start);
      if (end < 0) return undefined;
      const metric = JSON.parse(t.slice(start, end)) as Labels;
      if (!t.startsWith(VALUES, end)) return undefined;
      i = end + VALUES.length;
      let n = 0;
      if (t.charCodeAt(i) !== 93) {
        for (;;) {
          // [1790553900,"9.19"] or [1790553900.5,"NaN"]
          if (t.charCodeAt(i) !== 91 /* [ */) return undefined;
          const comma = t.indexOf(',"', i);
          if (comma < 0) return undefined;
          const close = t.indexOf('"]', comma + 2);
          if (close < 0) return undefined;
          const ms = readMs(t, i + 1, comma);
          if (ms < 0) return undefined;
          if (n === times.length) {
            times = grow(times);
            values = grow(values);
            scratch = { times, values };
          }
          times[n] = ms;
          values[n] = parseFloat(t.slice(comma + 2, close));
          n++;
          i = close + 2;
          const next = t.charCodeAt(i);
          if (next === 44 /* , */) i++;
          else if (next === 93) break;
          else return undefined;
        }
      }
      // ]} closes the values and the series.
      if (t.charCodeAt(i) !== 93 || t.charCodeAt(i + 1) !== 125) return undefined;
      i += 2;
      result.push({ metric, times: times.slice(0, n), values: values.slice(0, n) });
      const next = t.charCodeAt(i);
      if (next === 44) i++;
      else if (next === 93) break;
      else return undefined;
    }
  }
  // ]}} closes the result, the data and the body.
  return t.slice(i) === ']}}' ? { status: 'success', data: { resultType: 'matrix', result } } : undefined;
}

/**
 * Unix seconds with at most 3 decimals (as Prometheus writes them) between `from` and `to`, in ms, exactly; -1 for
 * anything else.
 */
function readMs(t: string, from: number, to: number): number {
  let ms = 0;
  let j = from;
  for (; j < to; j++) {
    const c = t.charCodeAt(j);
    if (c === 46 /* . */) break;
    if (c < 48 || c > 57) return -1;
    ms = ms * 10 + (c - 48);
  }
  if (j === from || to - j > 4) return -1;
  ms *= 1000;
  for (let k = j + 1, scale = 100; k < to; k++, scale /= 10) {
    const c = t.charCodeAt(k);
    if (c < 48 || c > 57) return -1;
    ms += (c - 48) * scale;
  }
  return ms;
}

/** The growing arrays points are read into before each series is copied out: kept from one body to the next. */
let scratch = { times: new Float64Array(16_384), values: new Float64Array(16_384) };

function grow(a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

/** The index just past the JSON object starting at `start` (strings and their escapes skipped), or -1. */
function objectEnd(t: string, start: number): number {
  if (t.charCodeAt(start) !== 123 /* { */) return -1;
  let depth = 0;
  for (let j = start; j < t.length; j++) {
    const c = t.charCodeAt(j);
    if (c === 34 /* " */) {
      for (j++; j < t.length && t.charCodeAt(j) !== 34; j++) if (t.charCodeAt(j) === 92 /* \ */) j++;
    } else if (c === 123) depth++;
    else if (c === 125 && --depth === 0) return j + 1;
  }
  return -1;
}
