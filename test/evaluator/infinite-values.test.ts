/**
 * Prometheus writes infinities as "+Inf" and "-Inf" (a cost per request when no request came, a ratio over a zero
 * rate). Those are values, not missing data: a threshold SLO whose query is +Inf is in breach, in evaluation and in
 * a backtest alike, and reading them as NaN would turn a page into "no data".
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusClient, evaluateAt, loadFrames, prometheusConfigFromEnv } from '../../src/evaluator/index.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { sloBudget } from '../../src/budget/load.js';
import { type Slo, loadRules } from '../../src/rules/index.js';

const MIN = 60_000;
/** The end of the history, on a whole minute. */
const END = Math.floor(Date.now() / MIN) * MIN - 10 * MIN;
const START = END - 60 * MIN;

let prom: LocalPrometheus;
let client: PrometheusClient;
let dir: string;
let slo: Slo;
let ratio: Slo;
/** 3.5 days of requests every 15 s, 1% of them errors; the flag the ratio SLO's total divides by is 0 for ten minutes. */
const DAYS = Array.from({ length: 84 * 240 + 1 }, (_, i) => END - 84 * 60 * MIN + i * 15_000);
const FLAG_OFF = END - 30 * 60 * MIN;

beforeAll(async () => {
  // Cost keeps being spent while no request comes (the request counter stands still): cost per request is +Inf.
  const minutes = Array.from({ length: 61 }, (_, i) => START + i * MIN);
  prom = await startPrometheus({
    history: [
      { name: 'inf_cost_usd_total', labels: { app: 'inf' }, samples: minutes.map((t, i) => [t, 0.5 * i] as const) },
      { name: 'inf_requests_total', labels: { app: 'inf' }, samples: minutes.map((t) => [t, 100] as const) },
      { name: 'ratio_requests_total', labels: { app: 'inf' }, samples: DAYS.map((t, i) => [t, 25 * i] as const) },
      { name: 'ratio_errors_total', labels: { app: 'inf' }, samples: DAYS.map((t, i) => [t, 0.25 * i] as const) },
      {
        name: 'ratio_flag',
        labels: { app: 'inf' },
        samples: DAYS.map((t) => [t, t >= FLAG_OFF && t < FLAG_OFF + 10 * MIN ? 0 : 1] as const),
      },
    ],
  });
  client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
  dir = await mkdtemp(join(tmpdir(), 'sloe-inf-'));
  await writeFile(
    join(dir, 'inf.yaml'),
    `apiVersion: sloe/v1
kind: ServiceLevels
service: inf
owner: ai-platform
escalation: inf
interval: 1m
dashboards:
  - { id: inf, title: Inf, url: https://grafana.example.com/d/inf, owner: alice }
slos:
  - name: cost-per-request
    signal: cost_per_request
    dashboard: inf
    query: sum(rate(inf_cost_usd_total{app="inf"}[5m])) / sum(rate(inf_requests_total{app="inf"}[5m]))
    objective: "< 0.05"
    alert: { when: "> 0.1", for: 2m, severity: ticket }
  # A hand-written total that divides by a flag: +Inf for the ten minutes the flag is 0.
  - name: availability
    signal: error_rate
    dashboard: inf
    ratio:
      bad: sum(rate(ratio_errors_total{app="inf"}[$window]))
      total: sum(rate(ratio_requests_total{app="inf"}[$window])) / scalar(max(ratio_flag{app="inf"}))
    objective: 99.5%
    window: 3d
    alert: { burnRate: workbook }
---
apiVersion: sloe/v1
kind: EscalationPolicy
name: inf
ticket:
  - notify: slack
    channel: "#inf"
`,
  );
  const loaded = await loadRules([dir]);
  expect(loaded.problems).toEqual([]);
  [slo, ratio] = loaded.config.slos as [Slo, Slo];
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('infinite values', () => {
  it('reads +Inf and -Inf from instant and range answers, vectors and scalars', async () => {
    expect((await client.instant('vector(1/0)', END)).map((s) => s.value)).toEqual([Infinity]);
    expect((await client.instant('-vector(1/0)', END)).map((s) => s.value)).toEqual([-Infinity]);
    expect((await client.instant('1/0', END)).map((s) => s.value)).toEqual([Infinity]);
    expect((await client.instant('vector(0/0)', END)).map((s) => Number.isNaN(s.value))).toEqual([true]);
    const range = await client.range(
      'vector(1/0) or label_replace(-vector(1/0), "sign", "-", "", "")',
      START,
      END,
      MIN,
    );
    const bySign = new Map(range.map((s) => [s.labels.sign ?? '+', [...new Set(s.values)]]));
    expect(bySign).toEqual(
      new Map([
        ['+', [Infinity]],
        ['-', [-Infinity]],
      ]),
    );
    expect(range[0]!.values.length).toBe(61);
  });

  it('a threshold SLO whose query is +Inf is in breach, not without data', async () => {
    const frame = await evaluateAt(client, slo, END);
    expect(frame.status).toBe('data');
    if (frame.status !== 'data') return;
    expect(frame.instances.map((i) => [i.value, i.state])).toEqual([[Infinity, 'breach']]);
    expect(frame.instances[0]!.message).toMatch(/^\+Inf > 0\.1/);

    // The backtest reads the same query over a range: every step from the first full 5m window on is a breach.
    const from = START + 10 * MIN;
    const frames = await loadFrames(client, slo, from, END, MIN);
    const states = new Set<string>();
    for (let at = from; at <= END; at += MIN) {
      const f = frames(at);
      if (f.status !== 'data') states.add(f.status);
      else for (const i of f.instances) states.add(`${i.value} ${i.state}`);
    }
    expect(states).toEqual(new Set(['Infinity breach']));
  });

  it("a ratio SLO's infinite rates count as missing points, in its evaluation and its error budget", async () => {
    // Not vacuous: the total is +Inf while the flag is 0.
    const total = ratio.kind === 'ratio' ? ratio.ratio.total.replaceAll('$window', '1m') : '';
    expect((await client.instant(total, FLAG_OFF + 5 * MIN)).map((s) => s.value)).toEqual([Infinity]);

    // 1% of requests fail throughout: the SLI is 99%, as if the ten minutes had no data (not 100%, not NaN).
    const budget = await sloBudget(client, ratio, END);
    expect(budget.sli).toBeCloseTo(0.99, 4);
    expect(budget.budget.remaining).toBeCloseTo(1 - 0.01 / 0.005, 3);
    for (const w of ['1h', '6h', '3d'] as const) expect(budget.burnRates[w], w).toBeCloseTo(2, 2);

    const frame = await evaluateAt(client, ratio, FLAG_OFF + 5 * MIN);
    expect(frame.status).toBe('data');
    if (frame.status !== 'data') return;
    const [instance] = frame.instances;
    expect(instance?.value).toBeCloseTo(0.99, 3);
  });
});
