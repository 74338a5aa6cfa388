/**
 * A healthy service that has not yet produced an error, a guardrail trigger or a cache hit exports no series for
 * them. A ratio whose numerator is such a series must read as 0 there, not as "no data": otherwise every healthy
 * service gets a no-data ticket after noDataFor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BacktestInstance,
  PrometheusClient,
  loadFrames,
  prometheusConfigFromEnv,
  replay,
} from '../../src/evaluator/index.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import type { SeriesHistory } from '../../src/local/openmetrics.js';
import { type Config, loadRules } from '../../src/rules/index.js';
import { ROOT } from '../support/cli.js';

const MIN = 60_000;
const FROM = Date.parse('2026-10-01T00:00:00Z');
const TO = FROM + 6 * 60 * MIN;
const APP = { app: 'it-support-assistant' };

/** 100 requests a minute, all successful, none blocked, none a cache hit; the other metrics healthy. */
function historyWithoutBadSeries(): SeriesHistory[] {
  const counter = (name: string, labels: Record<string, string>, perMinute: number): SeriesHistory => {
    const samples: Array<[number, number]> = [];
    for (let t = FROM, n = 0; t <= TO; t += MIN, n += perMinute) samples.push([t, n]);
    return { name, labels, samples };
  };
  const gauge = (name: string, value: number): SeriesHistory => {
    const samples: Array<[number, number]> = [];
    for (let t = FROM; t <= TO; t += MIN) samples.push([t, value]);
    return { name, labels: APP, samples };
  };
  return [
    counter('llm_requests_total', { ...APP, status: 'ok' }, 100),
    ...['2.5', '5', '10', '+Inf'].map((le) =>
      counter('llm_request_duration_seconds_bucket', { ...APP, model: 'sonnet', le }, 100),
    ),
    counter('llm_request_duration_seconds_bucket', { ...APP, model: 'sonnet', le: '1' }, 0),
    counter('llm_cost_usd_total', APP, 3),
    counter('llm_cache_requests_total', { ...APP, result: 'miss' }, 100),
    gauge('llm_approval_queue_depth', 20),
  ];
}

let prometheus: LocalPrometheus;
let config: Config;
let results: Map<string, BacktestInstance[]>;

beforeAll(async () => {
  prometheus = await startPrometheus({ history: historyWithoutBadSeries() });
  const loaded = await loadRules([`${ROOT}/slos`]);
  expect(loaded.problems).toEqual([]);
  config = loaded.config;
  const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prometheus.url });
  const from = FROM + 30 * MIN;
  const times = Array.from({ length: (TO - from) / MIN + 1 }, (_, i) => from + i * MIN);
  results = new Map();
  for (const slo of config.slos) {
    if (!['error-rate', 'guardrail-trigger-rate', 'cache-hit-rate', 'availability'].includes(slo.name)) continue;
    results.set(
      slo.name,
      replay(slo, config.policies.get(slo.escalation), times, await loadFrames(client, slo, from, TO, MIN)),
    );
  }
}, 180_000);

afterAll(async () => {
  await prometheus?.stop();
});

const incidents = (name: string) =>
  (results.get(name) ?? []).flatMap((i) =>
    i.incidents.map((x) => ({ reason: x.reason, severity: x.severity, message: x.message })),
  );

describe('ratios whose numerator has no series yet (slos/ against a real Prometheus)', () => {
  it.each(['error-rate', 'guardrail-trigger-rate', 'availability'])(
    '%s: no errors and no series means 0%%, and no incident at all',
    (name) => {
      expect(results.has(name)).toBe(true);
      expect(incidents(name)).toEqual([]);
    },
  );

  it('cache-hit-rate: no hit series means a 0% hit rate, a breach ticket, not a no-data ticket', () => {
    const found = incidents('cache-hit-rate');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ reason: 'breach', severity: 'ticket' });
    expect(found[0]!.message).toMatch(/^0 /);
  });
});
