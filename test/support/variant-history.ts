/**
 * Synthetic history of an assistant rolling out a new prompt: `prompt_key="answer_v1"` (the baseline, 90 % of the
 * traffic) beside `prompt_key="answer_v2"` (the canary), one sample a minute. Three histories, one after the other,
 * each an hour long, built for the three answers of `sloe gate`:
 *
 * - promote: the canary answers as fast, fails as rarely and scores as well as the baseline;
 * - rollback: the canary's answers take 5–10 s instead of 1–2.5 s and score 6 points lower;
 * - thin: the canary gets two requests a minute, too few for minEvents (100 a side over 30 minutes).
 */
import type { SeriesHistory } from '../../src/local/openmetrics.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
export const T0 = Date.parse('2026-11-02T00:00:00Z');
/** The end of each history, where the gate is asked (over the 30 minutes before). */
export const GATE_AT = { promote: T0 + HOUR, rollback: T0 + 2 * HOUR, thin: T0 + 3 * HOUR } as const;

const BUCKETS = ['0.5', '1', '2.5', '5', '10', '+Inf'] as const;
const BASE = { app: 'assistant', model: 'sonnet' };

interface Minute {
  requests: number;
  errorShare: number;
  slow: boolean;
  score: number;
}

function minute(prompt: 'answer_v1' | 'answer_v2', t: number): Minute {
  const baseline: Minute = { requests: 90, errorShare: 0.002, slow: false, score: 80 };
  if (prompt === 'answer_v1') return baseline;
  if (t <= GATE_AT.promote) return { requests: 10, errorShare: 0.002, slow: false, score: 79.5 };
  if (t <= GATE_AT.rollback) return { requests: 10, errorShare: 0.002, slow: true, score: 74 };
  return { requests: 2, errorShare: 0, slow: false, score: 80 };
}

/** The three histories, back to back, from 10 minutes before T0 to the last gate time. */
export function variantHistory(): SeriesHistory[] {
  const series = new Map<string, SeriesHistory & { samples: Array<[number, number]>; total: number }>();
  const add = (name: string, labels: Record<string, string>, t: number, value: number, counter: boolean) => {
    const key = name + JSON.stringify(labels);
    let s = series.get(key);
    if (!s) series.set(key, (s = { name, labels, samples: [], total: 0 }));
    s.total = counter ? s.total + value : value;
    s.samples.push([t, Number(s.total.toFixed(6))]);
  };
  for (let t = T0 - 10 * MIN; t <= GATE_AT.thin; t += MIN) {
    for (const prompt_key of ['answer_v1', 'answer_v2'] as const) {
      const labels = { ...BASE, prompt_key };
      const m = minute(prompt_key, t);
      const n = t === T0 - 10 * MIN ? 0 : m.requests;
      for (const le of BUCKETS) {
        const within = le === '0.5' || le === '1' ? 0 : m.slow ? (le === '2.5' ? 0 : le === '5' ? 0 : n) : n;
        add('llm_request_duration_seconds_bucket', { ...labels, le }, t, within, true);
      }
      add('llm_request_duration_seconds_count', labels, t, n, true);
      add('llm_requests_total', { ...labels, status: 'ok' }, t, n * (1 - m.errorShare), true);
      add('llm_requests_total', { ...labels, status: 'error' }, t, n * m.errorShare, true);
      add('llm_online_eval_score', labels, t, m.score, false);
    }
  }
  return [...series.values()].map(({ name, labels, samples }) => ({ name, labels, samples }));
}
