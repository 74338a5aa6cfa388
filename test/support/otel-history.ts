/**
 * Synthetic history of an LLM service instrumented with the OpenTelemetry GenAI semantic conventions, as the
 * Collector's Prometheus exporters store it (gen_ai_client_operation_duration_seconds histogram with error_type on
 * failed operations, gen_ai_client_token_usage histogram by gen_ai_token_type), plus the service's own cache,
 * guardrail, approval-queue and eval-score metrics. One sample a minute; scripted episodes on day D. A failure or a
 * guardrail trigger series exists only from the first such event on, as client libraries create them.
 */
import type { SeriesHistory } from '../../src/local/openmetrics.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
export const T0 = Date.parse('2026-10-01T00:00:00Z');
/** The day of the episodes; the eval-score baseline needs the 8 days before it. */
export const D = T0 + 8 * DAY;
export const END = D + DAY;
export const at = (h: number, m = 0): number => D + h * HOUR + m * MIN;

const JOB = { job: 'assistant' };
const MODEL = {
  ...JOB,
  gen_ai_system: 'anthropic',
  gen_ai_request_model: 'claude-sonnet',
  gen_ai_operation_name: 'chat',
};
const BUCKETS = ['1', '2.5', '5', '10', '+Inf'] as const;

/** What happens in the minute ending at t (counters) or at t (gauges). */
function minute(t: number, episodes: boolean) {
  const m = {
    requests: 100,
    errorShare: 0,
    slow: false,
    inputTokens: 1000,
    hitShare: 0.4,
    guardrailShare: 0,
    queue: 20,
    evalScore: 80,
  };
  if (!episodes) return m;
  const counted = (a: number, b: number) => t > a && t <= b;
  const held = (a: number, b: number) => t >= a && t < b;
  if (counted(at(1), at(1, 10))) m.slow = true;
  if (counted(at(5), at(5, 10))) m.errorShare = 0.1;
  if (counted(at(10), at(11))) m.errorShare = 0.3;
  if (counted(at(12), at(20))) m.inputTokens = 100_000;
  if (counted(at(2), at(2, 30))) m.hitShare = 0;
  if (counted(at(8), at(8, 40))) m.guardrailShare = 0.5;
  if (held(at(9), at(9, 30))) m.queue = 350;
  if (held(at(16), at(17, 30))) m.evalScore = 70;
  return m;
}

/** The history; `episodes: false` gives the same service without any incident (and without any error). */
export function otelHistory(episodes: boolean): SeriesHistory[] {
  const series = new Map<
    string,
    { name: string; labels: Record<string, string>; total: number; samples: Array<[number, number]> }
  >();
  const add = (name: string, labels: Record<string, string>, t: number, inc: number, create = true) => {
    const key = name + JSON.stringify(labels);
    let s = series.get(key);
    if (!s) {
      if (!create) return;
      series.set(key, (s = { name, labels, total: 0, samples: [] }));
    }
    s.total += inc;
    s.samples.push([t, Number(s.total.toFixed(6))]);
  };
  const set = (name: string, labels: Record<string, string>, t: number, v: number) => {
    const key = name + JSON.stringify(labels);
    let s = series.get(key);
    if (!s) series.set(key, (s = { name, labels, total: 0, samples: [] }));
    s.samples.push([t, v]);
  };
  const histogram = (labels: Record<string, string>, t: number, n: number, slow: boolean, create: boolean) => {
    for (const le of BUCKETS)
      add(
        'gen_ai_client_operation_duration_seconds_bucket',
        { ...labels, le },
        t,
        le === '1' ? 0 : le === '2.5' || le === '5' ? (slow ? 0 : n) : n,
        create,
      );
    add('gen_ai_client_operation_duration_seconds_count', labels, t, n, create);
    add('gen_ai_client_operation_duration_seconds_sum', labels, t, n * (slow ? 8 : 2), create);
  };
  for (let t = T0; t <= END; t += MIN) {
    const m = minute(t, episodes);
    const n = t === T0 ? 0 : m.requests;
    const failed = n * m.errorShare;
    histogram(MODEL, t, n - failed, m.slow, true);
    histogram({ ...MODEL, error_type: 'timeout' }, t, failed, m.slow, failed > 0);
    add('gen_ai_client_token_usage_sum', { ...MODEL, gen_ai_token_type: 'input' }, t, n * m.inputTokens);
    add('gen_ai_client_token_usage_count', { ...MODEL, gen_ai_token_type: 'input' }, t, n);
    add('gen_ai_client_token_usage_sum', { ...MODEL, gen_ai_token_type: 'output' }, t, n * 200);
    add('gen_ai_client_token_usage_count', { ...MODEL, gen_ai_token_type: 'output' }, t, n);
    add('assistant_cache_requests_total', { ...JOB, result: 'hit' }, t, n * m.hitShare);
    add('assistant_cache_requests_total', { ...JOB, result: 'miss' }, t, n * (1 - m.hitShare));
    add('assistant_guardrail_triggers_total', JOB, t, n * m.guardrailShare, m.guardrailShare > 0);
    set('assistant_approval_queue_depth', JOB, t, m.queue);
    set('assistant_online_eval_score', JOB, t, m.evalScore);
  }
  return [...series.values()].map(({ name, labels, samples }) => ({ name, labels, samples }));
}
