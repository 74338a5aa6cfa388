/**
 * Synthetic history of the IT-support assistant's golden-signal metrics, one sample a minute, with scripted
 * episodes on day D: for every SLO in slos/ one episode that must fire and one that must not. A counter sample at t
 * counts the traffic of the minute (t − 1m, t]; a gauge sample at t is its value at t. Prometheus 2 range selectors
 * are closed ([t − 5m, t]), so `rate(x[5m])` at t sees the five minutes (t − 5m, t].
 */
import { requestCounters } from '../../src/local/history.js';
import type { SeriesHistory } from '../../src/local/openmetrics.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
/** History starts here; the eval-score baseline needs 8 days of it. */
export const T0 = Date.parse('2026-10-01T00:00:00Z');
/** The day of the episodes. */
export const D = T0 + 8 * DAY;
export const END = D + 2 * DAY;

/** D + hh:mm (and days). */
export const at = (h: number, m = 0, days = 0): number => D + days * DAY + h * HOUR + m * MIN;

interface Minute {
  requests: number;
  errorShare: number;
  slowShare: number;
  costPerRequest: number;
  hitShare: number;
  guardrailShare: number;
  queueDepth: number;
  evalScore: number;
}

const APP = { app: 'it-support-assistant' };
const BUCKETS = ['1', '2.5', '5', '10', '+Inf'] as const;

/** What happens in the minute that ends at t (counters) or at t (gauges). */
function minute(t: number, episodes: boolean): Minute {
  const m: Minute = {
    requests: 100,
    errorShare: 0.002,
    slowShare: 0,
    costPerRequest: 0.03,
    hitShare: 0.4,
    guardrailShare: 0.02,
    queueDepth: 20,
    evalScore: 80,
  };
  if (!episodes) return m;
  const counted = (a: number, b: number) => t > a && t <= b; // counter minutes (a, b]
  const held = (a: number, b: number) => t >= a && t < b; // gauge values [a, b)
  // latency-p95: 10 slow minutes fire (for 5m); 1 slow minute, seen by the [5m] window for 5 evaluations, does not.
  if (counted(at(1), at(1, 10)) || counted(at(3), at(3, 1))) m.slowShare = 1;
  // error-rate: 10% errors for 10 minutes fire; for 1 minute the 5m average stays under 3%.
  if (counted(at(5), at(5, 10))) m.errorShare = 0.1;
  if (counted(at(7), at(7, 1))) m.errorShare = 0.1;
  // availability: 30% errors for an hour burn the budget 30× (page tier 14.4×).
  if (counted(at(10), at(11))) m.errorShare = 0.3;
  // availability: 100% errors at 1 request a minute stay under minEvents (100 in the 1h window).
  if (counted(at(20), at(23))) m.requests = 1;
  if (counted(at(21), at(23))) m.errorShare = 1;
  // cost-per-request: $0.20 a request for 8 hours lifts the daily average over $0.08; an hour at $0.50 does not.
  if (counted(at(12), at(20))) m.costPerRequest = 0.2;
  if (counted(at(20, 0, 1), at(21, 0, 1))) m.costPerRequest = 0.5;
  // cache-hit-rate: no hits for 30 minutes fire (for 10m); for 12 minutes do not.
  if (counted(at(2), at(2, 30)) || counted(at(6), at(6, 12))) m.hitShare = 0;
  // guardrail-trigger-rate: half the requests blocked for 40 minutes fire; for 4 minutes do not.
  if (counted(at(8), at(8, 40)) || counted(at(13), at(13, 4))) m.guardrailShare = 0.5;
  // approval-queue-depth: 350 for 30 minutes fires; for 8 minutes does not; flapping after a breach is damped.
  if (held(at(9), at(9, 30)) || held(at(11, 30), at(11, 38)) || held(at(15), at(15, 30))) m.queueDepth = 350;
  if (held(at(15, 30), at(16))) m.queueDepth = Math.floor((t - at(15, 30)) / MIN) % 2 === 0 ? 150 : 350;
  // eval-score: 10 points under the baseline for 90 minutes fire (for 30m); 3 points, or 20 minutes, do not.
  if (held(at(16), at(17, 30)) || held(at(20), at(20, 20))) m.evalScore = 70;
  if (held(at(19), at(19, 40))) m.evalScore = 77;
  return m;
}

/** Options of the history: which models answer (each with the whole traffic's latency, slow at the same time). */
export interface HistoryOptions {
  /** The values of the duration histogram's `model` label; default `['sonnet']`. */
  models?: readonly string[];
}

/**
 * The history of all metrics the SLOs in slos/ query; `episodes: false` gives the same without any incident. With
 * `models`, every model has the latency histogram sonnet has alone by default, so the slow episodes breach
 * latency-p95 for each model at once (the other signals, and latency-p99 over all models, are unchanged).
 */
export function assistantHistory(episodes: boolean, options: HistoryOptions = {}): SeriesHistory[] {
  const models = options.models ?? ['sonnet'];
  const times: number[] = [];
  for (let t = T0; t <= END; t += MIN) times.push(t);
  const counters = new Map<
    string,
    { name: string; labels: Record<string, string>; total: number; samples: Array<[number, number]> }
  >();
  const gauges = new Map<string, { name: string; labels: Record<string, string>; samples: Array<[number, number]> }>();
  const add = (name: string, labels: Record<string, string>, t: number, inc: number) => {
    const key = name + JSON.stringify(labels);
    let c = counters.get(key);
    if (!c) counters.set(key, (c = { name, labels, total: 0, samples: [] }));
    c.total += inc;
    c.samples.push([t, Number(c.total.toFixed(6))]);
  };
  const set = (name: string, labels: Record<string, string>, t: number, v: number) => {
    const key = name + JSON.stringify(labels);
    let g = gauges.get(key);
    if (!g) gauges.set(key, (g = { name, labels, samples: [] }));
    g.samples.push([t, v]);
  };
  for (const t of times) {
    const m = minute(t, episodes);
    const first = t === T0;
    const n = first ? 0 : m.requests;
    add('llm_requests_total', { ...APP, status: 'ok' }, t, n * (1 - m.errorShare));
    add('llm_requests_total', { ...APP, status: 'error' }, t, n * m.errorShare);
    const slow = n * m.slowShare;
    const fast = n - slow;
    for (const model of models) {
      for (const le of BUCKETS) {
        const count = le === '1' ? 0 : le === '2.5' || le === '5' ? fast : fast + slow;
        add('llm_request_duration_seconds_bucket', { ...APP, model, le }, t, count);
      }
    }
    add('llm_cost_usd_total', APP, t, n * m.costPerRequest);
    add('llm_cache_requests_total', { ...APP, result: 'hit' }, t, n * m.hitShare);
    add('llm_cache_requests_total', { ...APP, result: 'miss' }, t, n * (1 - m.hitShare));
    add('llm_guardrail_triggers_total', APP, t, n * m.guardrailShare);
    set('llm_approval_queue_depth', APP, t, m.queueDepth);
    set('llm_online_eval_score', APP, t, m.evalScore);
  }
  return [...counters.values(), ...gauges.values()].map(({ name, labels, samples }) => ({ name, labels, samples }));
}

/** A burst of errors for the burn-rate tests: `share` of 1000 requests a minute fail during (start, start + minutes]. */
export function burstHistory(
  app: string,
  share: number,
  start: number,
  minutes: number,
  from: number,
  to: number,
): SeriesHistory[] {
  return [
    ...requestCounters('burst_requests_total', { app }, from, to, (t) => ({
      requests: 1000,
      errorShare: t > start && t <= start + minutes * MIN ? share : 0,
    })),
  ];
}
