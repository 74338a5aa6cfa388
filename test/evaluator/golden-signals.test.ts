import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BacktestInstance,
  EvaluationError,
  PrometheusClient,
  evaluateAt,
  loadFrames,
  prometheusConfigFromEnv,
  ratioPlan,
  replay,
} from '../../src/evaluator/index.js';
import type { SloFrame } from '../../src/evaluator/frame.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { type Config, loadRules } from '../../src/rules/index.js';
import { D, DAY, END, MIN, at, assistantHistory } from '../support/assistant-history.js';
import { ROOT, runSloe } from '../support/cli.js';
import { inhibitPass } from '../../src/evaluator/backtest-inhibit.js';
import { NO_HOLDS } from '../../src/rules/silence.js';

let incident: LocalPrometheus;
let quiet: LocalPrometheus;
let config: Config;
let results: Map<string, BacktestInstance[]>;
let client: PrometheusClient;
let backtestQueries = 0;

const FROM = D;
const TO = END;
const STEP = MIN;
const times = (from: number, to: number, step = STEP) =>
  Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

beforeAll(async () => {
  [incident, quiet] = await Promise.all([
    startPrometheus({ history: assistantHistory(true) }),
    startPrometheus({ history: assistantHistory(false) }),
  ]);
  const loaded = await loadRules([`${ROOT}/slos`]);
  expect(loaded.problems).toEqual([]);
  config = loaded.config;
  client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: incident.url });
  results = new Map();
  for (const slo of config.slos) {
    const frames = await loadFrames(client, slo, FROM, TO, STEP);
    results.set(slo.name, replay(slo, config.policies.get(slo.escalation), times(FROM, TO), frames));
  }
  backtestQueries = client.queries;
}, 180_000);

afterAll(async () => {
  await Promise.all([incident?.stop(), quiet?.stop()]);
});

const hm = (t: number) => new Date(t).toISOString().slice(5, 16).replace('T', ' ');

/** The incidents of an SLO as [severity, firedAt, resolvedAt]. */
function incidentsOf(name: string): Array<[string, number, number | null]> {
  return (results.get(name) ?? []).flatMap((i) =>
    i.incidents.map((x) => [x.severity, x.firedAt, x.resolvedAt] as [string, number, number | null]),
  );
}

function expectNear(actual: number | null, expected: number, tolerance = STEP) {
  expect(actual, `${actual === null ? 'null' : hm(actual)} vs ${hm(expected)}`).not.toBeNull();
  expect(Math.abs(actual! - expected), `${hm(actual!)} vs ${hm(expected)}`).toBeLessThanOrEqual(tolerance);
}

describe('every golden signal of slos/ against a real Prometheus', () => {
  it.each([
    // [slo, incidents as [severity, fired, resolved]]; each SLO also had an episode that must not fire.
    // Slow from 01:00: breaching 01:01–01:14 in the [5m] window, fires after `for` 5m, resolves 5m after 01:15.
    ['latency-p95', [['page', at(1, 6), at(1, 20)]]],
    // Two of the window's five minutes at 10% (30%, 100%) lift the 5m average over 3%.
    [
      'error-rate',
      [
        ['page', at(5, 2), at(5, 19)],
        ['page', at(10, 1), at(11, 10)],
        ['page', at(21, 1), at(23, 7)],
      ],
    ],
    // 30% errors: the 1h error ratio passes 14.4 × 1% after 29 minutes; the 5m window recovers at 11:03.
    ['availability', [['page', at(10, 29), at(11, 8)]]],
    // No hits: 8 of the [10m] window's 10 minutes bring the hit rate under 10% at 02:08; `for` 10m.
    ['cache-hit-rate', [['ticket', at(2, 18), at(2, 38)]]],
    // Half blocked: 3 of 10 minutes pass 15% at 08:03; `for` 10m; the last breach is 08:47.
    ['guardrail-trigger-rate', [['ticket', at(8, 13), at(8, 53)]]],
    [
      'approval-queue-depth',
      [
        ['page', at(9, 10), at(9, 35)],
        ['page', at(15, 10), at(16, 5)],
      ],
    ],
    ['eval-score', [['page', at(16, 30), at(17, 35)]]],
    ['latency-p99', []],
  ] as const)('%s fires exactly as scripted', (name, expected) => {
    const actual = incidentsOf(name);
    expect(actual.map(([s, f, r]) => `${s} ${hm(f)} → ${r === null ? 'open' : hm(r)}`)).toHaveLength(expected.length);
    expected.forEach(([severity, fired, resolved], i) => {
      expect(actual[i]![0]).toBe(severity);
      expectNear(actual[i]![1], fired);
      expectNear(actual[i]![2], resolved);
    });
  });

  it('cost-per-request fires on the daily average and resolves once the expensive hours leave the day', () => {
    const actual = incidentsOf('cost-per-request');
    expect(actual).toHaveLength(1);
    expect(actual[0]![0]).toBe('ticket');
    // $0.03 → $0.20 at 12:00: the 24h average passes $0.08 after 7h04m of it.
    expectNear(actual[0]![1], at(19, 4));
    // The day's three low-traffic hours (20:00–23:00) leave 126,180 requests in the window, so the average stays
    // over $0.08 while more than 6h11m of expensive hours are in it: until 13:49 the next day, + resolveAfter.
    expectNear(actual[0]![2], at(13, 54, 1));
  });

  it('one error fault pages once: error-rate holds the page of availability (inhibits), where both paged', async () => {
    const pair = ['error-rate', 'availability'].map((n) => config.slos.find((s) => s.name === n)!);
    const first = await Promise.all(
      pair.map(async (slo) => ({
        slo,
        policy: config.policies.get(slo.escalation),
        frames: await loadFrames(client, slo, FROM, TO, STEP),
        holds: NO_HOLDS,
        instances: results.get(slo.name)!,
      })),
    );
    const second = inhibitPass(first, times(FROM, TO));
    // The 30% fault of 10:00–11:00: the incidents that reached PagerDuty.
    const paged = (instances: BacktestInstance[]) =>
      instances
        .flatMap((i) => i.incidents)
        .filter(
          (inc) => inc.firedAt >= at(10) && inc.firedAt < at(11) && inc.steps.some((s) => s.notify === 'pagerduty'),
        );
    expect(first.map((f) => paged(f.instances).length)).toEqual([1, 1]);
    expect(second.map((instances) => paged(instances).length)).toEqual([1, 0]);
    // availability's incident is still there, held by error-rate, and resolves before it would be released.
    const [held] = second[1]!.flatMap((i) => i.incidents);
    expect(held).toMatchObject({ severity: 'page', held: { by: 'it-support-assistant/error-rate' }, steps: [] });

    // `sloe backtest` does the same for one SLO, replaying what it waits for.
    const r = await runSloe(
      [
        'backtest',
        `${ROOT}/slos`,
        '--from',
        new Date(at(9)).toISOString(),
        '--to',
        new Date(at(12)).toISOString(),
        '--slo',
        'it-support-assistant/availability',
        '--json',
      ],
      {
        env: { PROMETHEUS_URL: incident.url, PAGERDUTY_ROUTING_KEY: 'test-key' },
        timeoutMs: 120_000,
      },
    );
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as {
      slos: Array<{ slo: string; incidents: Array<{ held?: { by: string }; steps: unknown[] }> }>;
    };
    expect(out.slos.map((s) => s.slo)).toEqual(['availability']);
    expect(out.slos[0]!.incidents).toEqual([
      expect.objectContaining({ held: expect.objectContaining({ by: 'it-support-assistant/error-rate' }), steps: [] }),
    ]);
  }, 120_000);

  it('latency fires per model: the instance carries its labels', () => {
    expect(results.get('latency-p95')!.map((i) => i.labels)).toEqual([{ model: 'sonnet' }]);
  });

  it('lays escalation steps at firedAt + after and drops those after the resolution', () => {
    const [latency] = results.get('latency-p95')![0]!.incidents;
    expect(latency!.steps.map((s) => [s.notify, hm(s.at)])).toEqual([
      ['slack', hm(latency!.firedAt)],
      ['pagerduty', hm(latency!.firedAt + 10 * MIN)],
    ]);
    const [queue] = results.get('approval-queue-depth')![0]!.incidents.slice(1);
    expect(queue!.steps.map((s) => [s.notify, s.target, s.at - queue!.firedAt])).toEqual([
      ['slack', '#ai-alerts', 0],
      ['pagerduty', 'critical', 10 * MIN],
      ['oncall', 'ai-primary', 25 * MIN],
    ]);
    const [cache] = results.get('cache-hit-rate')![0]!.incidents;
    expect(cache!.steps.map((s) => [s.notify, s.target])).toEqual([['slack', '#ai-alerts-low']]);
  });

  it('the same history without the incidents fires nothing', async () => {
    const quietClient = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: quiet.url });
    for (const slo of config.slos) {
      const frames = await loadFrames(quietClient, slo, FROM, TO, STEP);
      const instances = replay(slo, config.policies.get(slo.escalation), times(FROM, TO), frames);
      expect(
        instances.flatMap((i) => i.incidents),
        slo.name,
      ).toEqual([]);
    }
  });

  it('eval and backtest agree at every step they share', async () => {
    const checkpoints = [
      ...times(at(1), at(1, 20), 2 * MIN), // latency
      ...times(at(2, 5), at(2, 40), 5 * MIN), // cache
      ...times(at(10, 25), at(11, 10), 3 * MIN), // availability
      ...times(at(16), at(16, 40), 10 * MIN), // eval score
      at(21, 30),
    ];
    let compared = 0;
    for (const slo of config.slos) {
      const seen = new Map<number, SloFrame>();
      replay(
        slo,
        undefined,
        checkpoints,
        await loadFrames(client, slo, checkpoints[0]!, checkpoints[checkpoints.length - 1]!, MIN),
        (t, f) => seen.set(t, f),
      );
      for (const t of checkpoints) {
        const instant = await evaluateAt(client, slo, t);
        const ranged = seen.get(t)!;
        expect(summary(instant), `${slo.name} at ${hm(t)}`).toEqual(summary(ranged));
        compared++;
      }
    }
    expect(compared).toBe(config.slos.length * checkpoints.length);
  });

  it('issues range queries, not one query per step', () => {
    // 9 SLOs over 2 days at 1m (2,881 steps): one range query per PromQL expression, 11 in all (eval-score's
    // baseline and availability's bad and total are one each); no chunking is needed under 10,000 points.
    expect(backtestQueries).toBe(11);
  });
});

function summary(f: SloFrame): unknown {
  if (f.status !== 'data') return f;
  return f.instances.map((i) => ({
    labels: i.labels,
    state: i.state,
    value: Number.isNaN(i.value) ? 'NaN' : Number(i.value.toPrecision(10)),
  }));
}

describe('slos/ declared by signal fires exactly as the hand-written queries did', () => {
  it('every SLO of slos/ is derived from metrics:, and its incidents equal those of the hand-written query', async () => {
    const handWritten = await loadRules([
      `${ROOT}/test/fixtures/slos/hand-written`,
      `${ROOT}/slos/escalation.yaml`,
      `${ROOT}/slos/oncall.yaml`,
    ]);
    expect(handWritten.problems).toEqual([]);
    expect(config.slos.map((s) => [s.name, s.derived])).toEqual(handWritten.config.slos.map((s) => [s.name, true]));
    for (const written of handWritten.config.slos) {
      expect(written.derived, written.name).toBeUndefined();
      const frames = await loadFrames(client, written, FROM, TO, STEP);
      const theirs = replay(written, handWritten.config.policies.get(written.escalation), times(FROM, TO), frames);
      const ours = results.get(written.name)!;
      expect(ours, written.name).toEqual(theirs);
    }
  });
});

describe('sloe backtest and sloe eval, as users run them', () => {
  it('backtest --json reports the incident with firedAt, resolvedAt and the steps at their times', async () => {
    const r = await runSloe(
      ['backtest', 'slos/', '--from', new Date(at(0)).toISOString(), '--to', new Date(at(4)).toISOString(), '--json'],
      {
        env: { PROMETHEUS_URL: incident.url, PAGERDUTY_ROUTING_KEY: '' },
      },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      from: string;
      to: string;
      step: string;
      slos: Array<{
        slo: string;
        labels: Record<string, string>;
        incidents: Array<{
          severity: string;
          firedAt: string;
          resolvedAt: string | null;
          steps: Array<{ notify: string; at: string }>;
        }>;
      }>;
    };
    expect(out.from).toBe('2026-10-09T00:00:00Z');
    expect(out.step).toBe('1m');
    const latency = out.slos.find((s) => s.slo === 'latency-p95')!;
    expect(latency.labels).toEqual({ model: 'sonnet' });
    expect(latency.incidents).toHaveLength(1);
    const fired = Date.parse(latency.incidents[0]!.firedAt);
    expectNear(fired, at(1, 6));
    expect(latency.incidents[0]!.steps).toEqual([
      { notify: 'slack', at: latency.incidents[0]!.firedAt, target: '#ai-alerts' },
      { notify: 'pagerduty', at: new Date(fired + 10 * MIN).toISOString().replace('.000Z', 'Z'), target: 'critical' },
    ]);
    expect(out.slos.find((s) => s.slo === 'cache-hit-rate')!.incidents[0]!.severity).toBe('ticket');
  });

  it('backtest over the quiet history reports no incident', async () => {
    const r = await runSloe(
      ['backtest', 'slos/', '--from', String(at(0) / 1000), '--to', String(at(23) / 1000), '--json'],
      {
        env: { PROMETHEUS_URL: quiet.url },
      },
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { slos: Array<{ incidents: unknown[] }> };
    expect(out.slos).toHaveLength(9);
    expect(out.slos.flatMap((s) => s.incidents)).toEqual([]);
  });

  it('backtest prints a readable timeline', async () => {
    const r = await runSloe(
      ['backtest', 'slos/', '--from', new Date(at(0)).toISOString(), '--to', new Date(at(4)).toISOString()],
      {
        env: { PROMETHEUS_URL: incident.url },
      },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^2026-10-09T01:06:00Z\s+PAGE\s+it-support-assistant\/latency-p95\{model="sonnet"\}\s+resolved 2026-10-09T01:20:00Z after 14m$/m,
    );
    expect(r.stdout).toMatch(/→ pagerduty \(critical\)/);
    expect(r.stdout).toMatch(/^2 incident\(s\) would have fired \(1 page, 1 ticket\)/m);
  });

  it('eval at a breach shows it, with value and objective, in JSON', async () => {
    const r = await runSloe(['eval', 'slos/', '--at', new Date(at(9, 15)).toISOString(), '--json'], {
      env: { PROMETHEUS_URL: incident.url },
    });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      at: string;
      slos: Array<{ slo: string; labels: Record<string, string>; value: number; state: string; objective: string }>;
    };
    expect(out.at).toBe('2026-10-09T09:15:00Z');
    expect(out.slos.find((s) => s.slo === 'approval-queue-depth')).toMatchObject({
      value: 350,
      state: 'breach',
      objective: '< 50',
      labels: {},
    });
    expect(out.slos.find((s) => s.slo === 'latency-p95')).toMatchObject({ state: 'ok', labels: { model: 'sonnet' } });
    const availability = out.slos.find((s) => s.slo === 'availability')!;
    expect(availability.state).toBe('ok');
    expect(availability.value).toBeGreaterThan(0.99);
  });

  it('eval before any data reports nodata, never ok', async () => {
    const r = await runSloe(['eval', 'slos/', '--at', '2026-01-01T00:00:00Z', '--json'], {
      env: { PROMETHEUS_URL: incident.url },
    });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { slos: Array<{ state: string; value: number | null }> };
    expect(out.slos.map((s) => s.state)).toEqual(Array(9).fill('nodata'));
  });

  it('eval prints a table', async () => {
    const r = await runSloe(['eval', '--at', String(at(16, 45) / 1000)], { env: { PROMETHEUS_URL: incident.url } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^it-support-assistant\s+eval-score\s+-\s+70\s+-\s+drop > 5\s+BREACH \(page\)\s+70 against baseline 80: drop > 5$/m,
    );
  });
});

describe('failures are errors, never "ok"', () => {
  it('Prometheus down: exit 2 naming the SLO and the cause', async () => {
    const r = await runSloe(['eval', 'slos/'], { env: { PROMETHEUS_URL: 'http://127.0.0.1:9' } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      'could not evaluate slo "it-support-assistant/latency-p95": Prometheus at http://127.0.0.1:9 is unreachable',
    );
    const b = await runSloe(['backtest', 'slos/', '--from', String(at(0) / 1000), '--to', String(at(1) / 1000)], {
      env: { PROMETHEUS_URL: 'http://127.0.0.1:9' },
    });
    expect(b.code).toBe(2);
    expect(b.stdout).toBe('');
    expect(b.stderr).toContain('could not evaluate slo "it-support-assistant/availability"');
  });

  it('a query Prometheus rejects: exit 2 naming the SLO and the query', async () => {
    // Valid for the current grammar, but this Prometheus (2.42) has no such function.
    const client2 = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: incident.url });
    const slo = {
      ...config.slos.find((s) => s.name === 'approval-queue-depth')!,
      query: 'ts_of_max_over_time(llm_approval_queue_depth[5m])',
    } as (typeof config.slos)[number];
    const error = await evaluateAt(client2, slo, at(9)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EvaluationError);
    expect((error as Error).message).toMatch(
      /^could not evaluate slo "it-support-assistant\/approval-queue-depth": Prometheus rejected the query: .*\(query: ts_of_max_over_time/,
    );
    expect(client2.queries).toBe(1); // a bad query is not retried
  });

  it('a transient failure is retried, a persistent one reported after the last attempt', async () => {
    // A stand-in in front of Prometheus that answers 503 to the first request.
    let seen = 0;
    const proxy = createServer(async (req, res) => {
      seen++;
      if (seen === 1) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'error', errorType: 'unavailable', error: 'overloaded' }));
        return;
      }
      const body = await new Promise<string>((resolve) => {
        let b = '';
        req.on('data', (d: Buffer) => (b += d.toString()));
        req.on('end', () => resolve(b));
      });
      const upstream = await fetch(`${incident.url}${req.url}`, {
        method: req.method,
        headers: { 'content-type': String(req.headers['content-type'] ?? '') },
        body: req.method === 'POST' ? body : undefined,
      });
      res.writeHead(upstream.status, { 'content-type': 'application/json' });
      res.end(await upstream.text());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as AddressInfo).port;
    try {
      const flaky = new PrometheusClient({
        ...prometheusConfigFromEnv({}),
        url: `http://127.0.0.1:${port}`,
        backoffMs: 1,
      });
      expect(await flaky.instant('max(llm_approval_queue_depth)', at(9, 15))).toEqual([{ labels: {}, value: 350 }]);
      expect(flaky.queries).toBe(2);
      expect(seen).toBe(2);
    } finally {
      proxy.close();
    }
    const closed = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: 'http://127.0.0.1:9', backoffMs: 1 });
    const err = await closed.instant('up', at(1)).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain('unreachable');
    expect(closed.queries).toBe(3);
  });
});

describe('time-of-day independence', () => {
  it("the history spans what the test queries: every SLO's longest window before FROM, through TO, in Prometheus too", async () => {
    // The test's times are fixed dates, not the wall clock; the history written must cover all of them.
    const lookback = Math.max(...config.slos.map((slo) => (slo.kind === 'ratio' ? ratioPlan(slo).longestMs : 0)));
    expect(lookback).toBeGreaterThan(DAY);
    for (const series of assistantHistory(true)) {
      const samples = [...series.samples];
      expect(samples[0]![0], series.name).toBeLessThanOrEqual(FROM - lookback);
      expect(samples[samples.length - 1]![0], series.name).toBeGreaterThanOrEqual(TO);
    }
    for (const t of [FROM - lookback, FROM, TO]) {
      expect(await client.instant('count(llm_approval_queue_depth)', t), new Date(t).toISOString()).toEqual([
        { labels: {}, value: 1 },
      ]);
    }
  });
});
