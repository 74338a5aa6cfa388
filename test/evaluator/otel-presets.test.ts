/**
 * The opentelemetry-genai profile against a real Prometheus holding an OpenTelemetry-GenAI-shaped service: every
 * preset query runs, fires on its scripted episode, fires exactly as the same SLO written by hand, and a service
 * whose error and guardrail series do not exist yet gets no no-data incident.
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
import { type Config, loadRules } from '../../src/rules/index.js';
import { ROOT } from '../support/cli.js';
import { D, DAY, END, MIN, at, otelHistory } from '../support/otel-history.js';

const FROM = D - DAY;
const times = Array.from({ length: (END - FROM) / MIN + 1 }, (_, i) => FROM + i * MIN);

let prometheus: LocalPrometheus;
let client: PrometheusClient;
let presets: Config;
let handWritten: Config;

async function replayAll(config: Config): Promise<Map<string, BacktestInstance[]>> {
  const out = new Map<string, BacktestInstance[]>();
  for (const slo of config.slos)
    out.set(
      slo.name,
      replay(slo, config.policies.get(slo.escalation), times, await loadFrames(client, slo, FROM, END, MIN)),
    );
  return out;
}

let ours: Map<string, BacktestInstance[]>;
let theirs: Map<string, BacktestInstance[]>;

beforeAll(async () => {
  prometheus = await startPrometheus({ history: otelHistory(true) });
  client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prometheus.url });
  const a = await loadRules([`${ROOT}/test/fixtures/slos/good/presets-opentelemetry-genai.yaml`]);
  const b = await loadRules([`${ROOT}/test/fixtures/slos/hand-written-otel`]);
  expect([...a.problems, ...b.problems]).toEqual([]);
  presets = a.config;
  handWritten = b.config;
  [ours, theirs] = [await replayAll(presets), await replayAll(handWritten)];
}, 240_000);

afterAll(async () => {
  await prometheus?.stop();
});

const hm = (t: number) => new Date(t).toISOString().slice(5, 16).replace('T', ' ');
const summary = (instances: BacktestInstance[]) =>
  instances.flatMap((i) =>
    i.incidents.map(
      (x) => `${x.reason} ${x.severity} ${hm(x.firedAt)} → ${x.resolvedAt === null ? 'open' : hm(x.resolvedAt)}`,
    ),
  );

describe('the opentelemetry-genai profile against a real Prometheus', () => {
  it('every SLO of the fixture is derived from metrics:', () => {
    expect(presets.slos.map((s) => s.derived)).toEqual(Array(9).fill(true));
  });

  it.each([
    ['latency-p95', [at(1)]],
    // 10% errors at 05:00, and the 30% of the availability episode at 10:00.
    ['error-rate', [at(5), at(10)]],
    ['availability', [at(10)]],
    ['cost-per-request', [at(12)]],
    ['cache-hit-rate', [at(2)]],
    ['guardrail-trigger-rate', [at(8)]],
    ['approval-queue-depth', [at(9)]],
    ['eval-score', [at(16)]],
  ] as const)('%s fires on its episodes, for a breach, and nowhere else', (name, starts) => {
    const incidents = (ours.get(name) ?? []).flatMap((i) => i.incidents);
    expect(summary(ours.get(name)!)).toHaveLength(starts.length);
    starts.forEach((start, i) => {
      expect(incidents[i]!.reason).toBe('breach');
      expect(incidents[i]!.firedAt).toBeGreaterThan(start);
      expect(incidents[i]!.firedAt).toBeLessThan(start + 8 * 60 * MIN);
    });
  });

  it('latency-p99 stays quiet (10 slow minutes of 5–10 s stay under 12 s)', () => {
    expect(summary(ours.get('latency-p99')!)).toEqual([]);
  });

  it('latency splits by gen_ai_request_model', () => {
    expect(ours.get('latency-p95')!.map((i) => i.labels)).toEqual([{ gen_ai_request_model: 'claude-sonnet' }]);
  });

  it.each([
    'latency-p95',
    'latency-p99',
    'error-rate',
    'availability',
    'cost-per-request',
    'cache-hit-rate',
    'guardrail-trigger-rate',
    'approval-queue-depth',
    'eval-score',
  ])('%s fires exactly as the hand-written query does', (name) => {
    expect(ours.get(name), name).toEqual(theirs.get(name));
  });

  it('the day before, with no error and no guardrail series yet, nothing fires', () => {
    for (const [name, instances] of ours) {
      expect(
        instances.flatMap((i) => i.incidents).filter((x) => x.firedAt < D),
        name,
      ).toEqual([]);
    }
  });
});
