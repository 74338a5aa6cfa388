import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PrometheusClient,
  evaluateAt,
  loadFrames,
  prometheusConfigFromEnv,
  replay,
} from '../../src/evaluator/index.js';
import { BatchingPort } from '../../src/evaluator/batching.js';
import { LongWindowCache } from '../../src/evaluator/long-windows.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { type Config, loadRules } from '../../src/rules/index.js';
import { DAY, MIN, burstHistory } from '../support/assistant-history.js';
import { ROOT } from '../support/cli.js';

const FROM = Date.parse('2026-09-01T00:00:00Z');
const TO = FROM + 4 * DAY;
const BURST = FROM + 3 * DAY + 12 * 60 * MIN;
const BURSTS = [
  { slo: 'burst-100', app: 'burst-100', share: 1, minutes: 2 },
  { slo: 'burst-20', app: 'burst-20', share: 0.2, minutes: 8 },
  { slo: 'burst-2', app: 'burst-2', share: 0.02, minutes: 60 },
] as const;

/**
 * The Google SRE Workbook's prediction for a burst of `share` errors lasting `minutes` on a 99.9% / 30d SLO:
 * the first minute after the burst starts at which some tier's long and short windows both burn faster than its
 * factor, and the first minute after that at which none does. Windows count whole minutes of the burst inside them.
 */
function workbookPrediction(share: number, minutes: number): { fire: number; stop: number } {
  const budget = 0.001;
  const tiers = [
    { long: 60, short: 5, factor: 14.4 },
    { long: 360, short: 30, factor: 6 },
    { long: 4320, short: 360, factor: 1 },
  ];
  const ratio = (t: number, w: number) => (share * Math.max(0, Math.min(t, minutes) - Math.max(t - w, 0))) / w;
  const firing = (t: number) =>
    tiers.some((k) => ratio(t, k.long) / budget > k.factor && ratio(t, k.short) / budget > k.factor);
  let fire = 1;
  while (!firing(fire)) fire++;
  let stop = fire;
  while (firing(stop)) stop++;
  return { fire, stop };
}

let prom: LocalPrometheus;
let config: Config;

beforeAll(async () => {
  prom = await startPrometheus({
    history: BURSTS.flatMap((b) => burstHistory(b.app, b.share, BURST, b.minutes, FROM, TO)),
  });
  const loaded = await loadRules([join(ROOT, 'test/fixtures/slos/burn-rate')]);
  expect(loaded.problems).toEqual([]);
  config = loaded.config;
});
afterAll(() => prom?.stop());

describe('burn-rate alerting of a 99.9% / 30d SLO (workbook tiers)', () => {
  it('the prediction itself follows the workbook: 100% errors fire within a minute, 2% after 44', () => {
    expect(workbookPrediction(1, 2)).toEqual({ fire: 1, stop: 7 });
    expect(workbookPrediction(0.2, 8).fire).toBe(5);
    expect(workbookPrediction(0.02, 60).fire).toBe(44);
  });

  it.each(BURSTS)(
    'a burst of $share errors for $minutes minutes fires and stops when the workbook says',
    async ({ slo: name, share, minutes }) => {
      const slo = config.slos.find((s) => s.name === name)!;
      const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
      const from = BURST - 2 * 60 * MIN;
      const to = BURST + 3 * 60 * MIN;
      const times = Array.from({ length: (to - from) / MIN + 1 }, (_, i) => from + i * MIN);
      const [instance, ...others] = replay(
        slo,
        config.policies.get(slo.escalation),
        times,
        await loadFrames(client, slo, from, to, MIN),
      );
      expect(others).toEqual([]);
      expect(instance!.incidents).toHaveLength(1);
      const incident = instance!.incidents[0]!;
      const predicted = workbookPrediction(share, minutes);
      expect(incident.severity).toBe('page');
      expect(Math.abs(incident.firedAt - (BURST + predicted.fire * MIN)), 'fired').toBeLessThanOrEqual(MIN);
      // resolveAfter is 0: the incident resolves at the first step no tier fires, i.e. when the short window recovers.
      expect(Math.abs(incident.resolvedAt! - (BURST + predicted.stop * MIN)), 'resolved').toBeLessThanOrEqual(MIN);
    },
  );

  it('reports the burn rate of each tier', async () => {
    const slo = config.slos.find((s) => s.name === 'burst-100')!;
    const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
    const frame = await evaluateAt(client, slo, BURST + 2 * MIN);
    expect(frame.status).toBe('data');
    if (frame.status !== 'data') return;
    const [page1h] = frame.instances[0]!.tiers!;
    // 2 minutes of 100% errors in the last hour: 2/60 of events bad, 1000 × 0.1% budget → burn rate 33.3.
    expect(page1h!.longBurn).toBeCloseTo(1000 / 30, 1);
    expect(page1h!.shortBurn).toBeCloseTo(400, 0);
    expect(page1h!.events).toBeCloseTo(60_000, -2);
    expect(page1h!.firing).toBe(true);
  });
});

describe('the engine reads long windows in full once, then only the points that entered and left them', () => {
  it('agrees with the exact evaluation while reading 6 hours and a few points instead of 3 days', async () => {
    const slo = config.slos.find((s) => s.name === 'burst-2')!;
    if (slo.kind !== 'ratio') throw new Error('burst-2 is a ratio SLO');
    const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
    const cache = new LongWindowCache();
    const states = async (t: number) => {
      const [cached, exact] = [await cache.evaluate(client, slo, t, 'all'), await evaluateAt(client, slo, t)];
      const view = (f: typeof exact) =>
        f.status === 'data' ? f.instances.map((i) => [i.state, i.severity]) : f.status;
      return { cached: view(cached), exact: view(exact), cachedFrame: cached, exactFrame: exact };
    };
    // Through the burst: 44 minutes in it fires (page, 1h tier), and it stops 2 minutes after it ends.
    for (const minute of [30, 44, 45, 46, 50, 61, 62, 63, 70]) {
      const r = await states(BURST + minute * MIN);
      expect(r.cached, `minute ${minute}`).toEqual(r.exact);
    }
    // The 3d window was read in full at minute 30 (cold); later evaluations carried it on from the points since.
    expect(cache.refreshes).toBe(1);
    expect(cache.increments).toBeGreaterThanOrEqual(5);
    const r = await states(BURST + 71 * MIN);
    const sli = (f: typeof r.exactFrame) => (f.status === 'data' ? f.instances[0]!.value : NaN);
    // The share of good events over 3 days ending a few minutes ago is within 0.01% of the exact one.
    expect(Math.abs(sli(r.cachedFrame) - sli(r.exactFrame))).toBeLessThan(1e-4);
  });
});

describe('queries merged into one request', () => {
  it('answers each query as if it were sent alone, in one request', async () => {
    const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
    const port = new BatchingPort(client);
    const queries = BURSTS.map((b) => `sum by (status) (rate(burst_requests_total{app="${b.app}"}[5m]))`);
    const [start, end] = [BURST - 10 * MIN, BURST + 10 * MIN];
    const merged = await Promise.all(queries.map((q) => port.range(q, start, end, MIN)));
    expect(port.requests).toBe(1);
    expect(client.queries).toBe(1);
    const alone = await Promise.all(queries.map((q) => client.range(q, start, end, MIN)));
    const sorted = (xs: typeof alone) =>
      xs.map((series) => [...series].sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels))));
    expect(sorted(merged)).toEqual(sorted(alone));
    const instants = await Promise.all(queries.map((q) => port.instant(q, BURST + MIN)));
    expect(instants.map((r) => r.length)).toEqual([2, 2, 2]);
    expect(port.requests).toBe(2);
  });

  it('many queries, nested as a tree of `or`s, are each answered as if sent alone', async () => {
    const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
    const port = new BatchingPort(client);
    // 27 parts (a tree five deep, uneven halves), some with an `or` of their own and some with no answer.
    const queries = BURSTS.flatMap((b) => [
      `sum by (status) (rate(burst_requests_total{app="${b.app}"}[5m]))`,
      `sum(rate(burst_requests_total{app="${b.app}", status="error"}[5m]))`,
      `sum(rate(burst_requests_total{app="${b.app}"}[30m])) or vector(0)`,
      `rate(burst_requests_total{app="${b.app}", status="ok"}[1h])`,
      `sum(rate(burst_requests_total{app="${b.app}", status="missing"}[5m]))`,
      `max(burst_requests_total{app="${b.app}"})`,
      `count(burst_requests_total{app="${b.app}"})`,
      `sum by (app) (increase(burst_requests_total{app="${b.app}"}[10m]))`,
      `label_replace(sum(rate(burst_requests_total{app="${b.app}"}[2m])), "x", "y", "", "")`,
    ]);
    const [start, end] = [BURST - 10 * MIN, BURST + 10 * MIN];
    const merged = await Promise.all(queries.map((q) => port.range(q, start, end, MIN)));
    expect(port.requests).toBe(1);
    const alone = await Promise.all(queries.map((q) => client.range(q, start, end, MIN)));
    const sorted = (xs: typeof alone) =>
      xs.map((series) => [...series].sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels))));
    expect(sorted(merged)).toEqual(sorted(alone));
    expect(merged.filter((r) => r.length === 0)).toHaveLength(BURSTS.length);
  });

  it('a query Prometheus rejects fails alone; the others are answered', async () => {
    const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
    const port = new BatchingPort(client);
    const good = port.instant('sum(burst_requests_total{app="burst-2"})', BURST);
    // This Prometheus (2.42) has no such function: the merged query is rejected, then each part is asked alone.
    const bad = port.instant('ts_of_max_over_time(burst_requests_total[5m])', BURST).then(
      () => 'answered',
      (e: Error) => e.message,
    );
    expect((await good).length).toBe(1);
    expect(await bad).toMatch(/^Prometheus rejected the query/);
    expect(client.queries).toBe(3);
  });
});

describe('series, instances and maxSeries', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloe-series-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function sloWith(extra: string) {
    const file = join(dir, `slo-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(
      file,
      `apiVersion: sloe/v1
kind: EscalationPolicy
name: p
page: [{ notify: slack, channel: "#x" }]
---
apiVersion: sloe/v1
kind: ServiceLevels
service: s
owner: o
escalation: p
dashboards: [{ id: d, owner: someone }]
slos:
  - name: by-status
    signal: custom
    dashboard: d
    query: sum by (status) (rate(burst_requests_total{app="burst-100"}[5m]))
    alert: { when: "> 5" }
${extra}`,
    );
    const loaded = await loadRules([file]);
    expect(loaded.problems).toEqual([]);
    return loaded.config.slos[0]!;
  }

  it('each label set of a query is its own instance', async () => {
    const slo = await sloWith('');
    const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
    // Two minutes into the burst: 2,000 errors in the [5m] window are 6.7/s; successes ran at 16.7/s before.
    const frame = await evaluateAt(client, slo, BURST + 2 * MIN);
    expect(frame.status === 'data' && frame.instances.map((i) => [i.labels, i.state])).toEqual([
      [{ status: 'error' }, 'breach'],
      [{ status: 'ok' }, 'breach'],
    ]);
    const before = await evaluateAt(client, slo, BURST - MIN);
    expect(before.status === 'data' && before.instances.map((i) => [i.labels, i.state])).toEqual([
      [{ status: 'error' }, 'ok'],
      [{ status: 'ok' }, 'breach'],
    ]);
  });

  it('more series than maxSeries is an error, not a page per series', async () => {
    const slo = await sloWith('    maxSeries: 1\n');
    const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
    const frame = await evaluateAt(client, slo, BURST + MIN);
    expect(frame).toEqual({
      status: 'error',
      message: 'the query returned 2 series, more than maxSeries 1: check its grouping labels',
    });
    const from = BURST;
    const [instance] = replay(slo, undefined, [from, from + MIN], await loadFrames(client, slo, from, from + MIN, MIN));
    expect(instance!.labels).toEqual({});
    expect(instance!.incidents.map((i) => [i.severity, i.reason])).toEqual([['ticket', 'error']]);
  });
});
