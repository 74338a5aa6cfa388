/**
 * Prometheus behind a small port: instant and range queries returning plain numbers. The adapter uses
 * prometheus-query with a request timeout, optional bearer or basic auth, retries of transient failures, and range
 * queries split to stay under Prometheus' 11,000 points per series.
 */
import { PrometheusDriver } from 'prometheus-query';
import { mapLimit, sleep } from '../util/async.js';
import { redactUrls } from '../util/redact.js';
import { type Labels, labelsKey, seriesLabels } from './labels.js';
import { type MatrixSeries, readRangeBody, sampleValue } from './range-body.js';

/** The parts of a series, one after the other. */
function concat(parts: Float64Array[]): Float64Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface InstantSample {
  labels: Labels;
  value: number;
}

/**
 * One series of a range query: timestamps (unix ms) and their values, in time order. Typed arrays: a month at a
 * one-minute step is 40,000 points per series, and an object per point is what a replay would spend its time on.
 */
export interface RangeSeries {
  labels: Labels;
  times: Float64Array;
  values: Float64Array;
}

/** What the evaluator needs from Prometheus. */
export interface PrometheusPort {
  instant(query: string, at: number): Promise<InstantSample[]>;
  range(query: string, start: number, end: number, stepMs: number): Promise<RangeSeries[]>;
}

export type PrometheusErrorKind = 'unreachable' | 'timeout' | 'bad_query' | 'server' | 'unexpected';

/** A failed query; says what failed, why, and whether trying again may help. Its message never shows credentials of a URL. */
export class PrometheusError extends Error {
  constructor(
    readonly kind: PrometheusErrorKind,
    message: string,
    readonly query: string,
    readonly status?: number,
  ) {
    super(redactUrls(message));
    this.name = 'PrometheusError';
  }

  get retryable(): boolean {
    return this.kind === 'unreachable' || this.kind === 'timeout' || this.kind === 'server';
  }
}

export interface PrometheusConfig {
  url: string;
  timeoutMs: number;
  bearerToken?: string;
  username?: string;
  password?: string;
  /** Attempts per query, the first included. */
  attempts: number;
  /** Back-off before the second attempt; doubles each time. */
  backoffMs: number;
  /** Most points per series in one range query (Prometheus refuses more than 11,000). */
  maxPoints: number;
  /** Most requests of one range query in flight at once (a long range goes out in chunks of `maxPoints`). */
  rangeConcurrency: number;
}

/** Prometheus settings from the environment (PROMETHEUS_URL, _TIMEOUT, _BEARER_TOKEN, _USERNAME, _PASSWORD). */
export function prometheusConfigFromEnv(env: NodeJS.ProcessEnv): PrometheusConfig {
  const timeout = env.PROMETHEUS_TIMEOUT ? Number(env.PROMETHEUS_TIMEOUT) * 1000 : 30_000;
  return {
    url: env.PROMETHEUS_URL || 'http://localhost:9090',
    timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout : 30_000,
    bearerToken: env.PROMETHEUS_BEARER_TOKEN || undefined,
    username: env.PROMETHEUS_USERNAME || undefined,
    password: env.PROMETHEUS_PASSWORD || undefined,
    attempts: 3,
    backoffMs: 500,
    maxPoints: 10_000,
    rangeConcurrency: 4,
  };
}

/**
 * prometheus-query's request path (`request`, private in its types) without its response mapping (a `Date` and an
 * object per point): the connection, auth, timeout and the normalising of errors stay the library's. A range
 * query's body is read by readRangeBody (range-body.ts).
 */
interface RawDriver {
  request(
    method: 'POST',
    uri: string,
    params: null,
    body: Record<string, string | number>,
  ): Promise<{ resultType?: string; result?: unknown }>;
}

interface DriverError {
  errorType?: string;
  error?: string;
  httpStatus?: number;
  code?: string;
}

/** Whether `url` names this host (localhost, 127.0.0.0/8, ::1). */
export function loopback(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** PrometheusPort over HTTP. `queries` counts the HTTP requests it made. */
export class PrometheusClient implements PrometheusPort {
  private readonly driver: PrometheusDriver;
  queries = 0;

  constructor(readonly config: PrometheusConfig) {
    const rangeEncoding = loopback(config.url) ? 'identity' : 'gzip';
    this.driver = new PrometheusDriver({
      endpoint: config.url,
      baseURL: '/api/v1/',
      timeout: config.timeoutMs,
      preferPost: true,
      headers: config.bearerToken ? { Authorization: `Bearer ${config.bearerToken}` } : {},
      ...(config.username && config.password ? { auth: { username: config.username, password: config.password } } : {}),
      // Range answers (large) are read into typed arrays, not through JSON.parse, and decompressed in one call
      // rather than through a stream (range-body.ts); only gzip is asked for, so only gzip can come. A Prometheus on
      // this host is asked for none: compressing a month of points costs it twice the CPU of answering the query,
      // and saves no network.
      requestInterceptor: {
        onFulfilled: (request) => {
          if (request.url !== 'query_range') return request;
          request.headers.set('Accept-Encoding', rangeEncoding);
          return { ...request, decompress: false, responseType: 'arraybuffer', transformResponse: [readRangeBody] };
        },
      },
    });
  }

  async instant(query: string, at: number): Promise<InstantSample[]> {
    // The raw answer, not the driver's mapping: that reads "+Inf" and "-Inf" as NaN.
    const data = await this.attempt(query, () =>
      (this.driver as unknown as RawDriver).request('POST', 'query', null, { query, time: at / 1000 }),
    );
    if (data.resultType === 'scalar') {
      const [, v] = data.result as [number, string];
      return [{ labels: {}, value: sampleValue(v) }];
    }
    if (data.resultType !== 'vector')
      throw new PrometheusError('bad_query', `query returned a ${data.resultType}, not a vector`, query);
    return (data.result as Array<{ metric: Labels; value: [number, string] }>).map((r) => ({
      labels: seriesLabels(r.metric),
      value: sampleValue(r.value[1]),
    }));
  }

  async range(query: string, start: number, end: number, stepMs: number): Promise<RangeSeries[]> {
    const chunk = stepMs * this.config.maxPoints;
    const spans: Array<[number, number]> = [];
    for (let from = start; from <= end; from += chunk) spans.push([from, Math.min(end, from + chunk - stepMs)]);
    // The chunks of one query go out together, at most `rangeConcurrency` at a time; their parts are joined in order.
    const answers = await mapLimit(spans, this.config.rangeConcurrency, ([from, to]) =>
      this.attempt(query, () => this.rawRange(query, from, to, stepMs)),
    );
    const parts = new Map<string, { labels: Labels; times: Float64Array[]; values: Float64Array[] }>();
    for (const answer of answers) {
      for (const s of answer) {
        const key = labelsKey(s.labels);
        const known = parts.get(key);
        if (known) {
          known.times.push(s.times);
          known.values.push(s.values);
        } else parts.set(key, { labels: s.labels, times: [s.times], values: [s.values] });
      }
    }
    return [...parts.values()].map((p) => ({ labels: p.labels, times: concat(p.times), values: concat(p.values) }));
  }

  /** One range query of at most `maxPoints` steps. */
  private async rawRange(query: string, from: number, to: number, stepMs: number): Promise<RangeSeries[]> {
    const data = await (this.driver as unknown as RawDriver).request('POST', 'query_range', null, {
      query,
      start: from / 1000,
      end: to / 1000,
      step: stepMs / 1000,
    });
    if (data.resultType !== 'matrix')
      throw new PrometheusError('bad_query', `query returned a ${data.resultType}, not a matrix`, query);
    return (data.result as MatrixSeries[]).map((r) => ({
      labels: seriesLabels(r.metric),
      times: r.times,
      values: r.values,
    }));
  }

  /** The label sets of the series that match `match` between start and end (the series API). */
  async series(match: string, start: number, end: number): Promise<Labels[]> {
    const found = await this.attempt(match, () => this.driver.series(match, new Date(start), new Date(end)));
    return found.map((m) => ({ ...seriesLabels(m.labels as Labels), __name__: m.name }));
  }

  /** Metric types and help by metric name (the metadata API: known only for metrics Prometheus scrapes). */
  async metadata(): Promise<Record<string, Array<{ type: string; help: string; unit: string }>>> {
    return ((await this.attempt('metadata', () => this.driver.metadata())) ?? {}) as Record<
      string,
      Array<{ type: string; help: string; unit: string }>
    >;
  }

  private async attempt<T>(query: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      this.queries++;
      try {
        return await call();
      } catch (e) {
        const error = this.toError(e, query);
        if (!error.retryable || attempt >= this.config.attempts) throw error;
        await sleep(this.config.backoffMs * 2 ** (attempt - 1));
      }
    }
  }

  private toError(e: unknown, query: string): PrometheusError {
    if (e instanceof PrometheusError) return e;
    const d = (e ?? {}) as DriverError;
    const where = this.config.url;
    switch (d.errorType) {
      case 'timeout_error':
        return new PrometheusError(
          'timeout',
          `Prometheus at ${where} did not answer within ${this.config.timeoutMs} ms`,
          query,
        );
      case 'network_error':
      case 'ssl_error':
        return new PrometheusError(
          'unreachable',
          `Prometheus at ${where} is unreachable: ${d.error ?? d.code ?? 'network error'}`,
          query,
        );
      case 'http_error': {
        const status = d.httpStatus ?? 0;
        if (status === 400 || status === 422)
          return new PrometheusError('bad_query', `Prometheus rejected the query: ${d.error}`, query, status);
        if (status === 401 || status === 403)
          return new PrometheusError(
            'bad_query',
            `Prometheus at ${where} refused access (HTTP ${status}): check PROMETHEUS_BEARER_TOKEN or PROMETHEUS_USERNAME/PASSWORD`,
            query,
            status,
          );
        if (status === 429 || status >= 500)
          return new PrometheusError(
            'server',
            `Prometheus at ${where} answered HTTP ${status}: ${d.error}`,
            query,
            status,
          );
        return new PrometheusError(
          'unexpected',
          `Prometheus at ${where} answered HTTP ${status}: ${d.error}`,
          query,
          status,
        );
      }
      default:
        return new PrometheusError(
          'unexpected',
          `unexpected answer from Prometheus at ${where}: ${d.error ?? (e instanceof Error ? e.message : String(e))}`,
          query,
        );
    }
  }
}
