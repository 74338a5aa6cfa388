/**
 * `sloe run`'s long burn-rate windows, carried on from the last sums by reading only the base rates that entered and
 * left them, judge exactly as a full read of 3 days ending at the same grid point: burn rates, SLI, states.
 * Real Prometheus with 4 days of history and an error burst.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchingPort } from '../../src/evaluator/batching.js';
import { PrometheusClient, evaluateAt, prometheusConfigFromEnv } from '../../src/evaluator/index.js';
import { LongWindowCache, SETTLE_MS, anchorOf, bucketOf } from '../../src/evaluator/long-windows.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import type { RatioSlo } from '../../src/rules/model.js';
import { type Config, loadRules } from '../../src/rules/index.js';
import { DAY, MIN, burstHistory } from '../support/assistant-history.js';
import { ROOT } from '../support/cli.js';
import { Observed, fullAnchoredRead } from '../support/windows.js';

const FROM = Date.parse('2026-09-01T00:00:00Z');
const TO = FROM + 5 * DAY;
const BURST = FROM + 3 * DAY + 12 * 60 * MIN;
const HOUR = 60 * MIN;

/** A frame with its numbers to 10 significant digits: sums added up in another order differ in the last bits. */
const rounded = (frame: unknown) =>
  JSON.parse(
    JSON.stringify(frame, (_, v: unknown) => (typeof v === 'number' ? Number(v.toPrecision(10)) : v)),
  ) as unknown;

let prom: LocalPrometheus;
let config: Config;
let client: PrometheusClient;

beforeAll(async () => {
  prom = await startPrometheus({
    history: [
      ...burstHistory('burst-2', 0.02, BURST, 60, FROM, TO),
      ...burstHistory('burst-20', 0.2, BURST + 30 * MIN, 8, FROM, TO),
    ],
  });
  const loaded = await loadRules([join(ROOT, 'test/fixtures/slos/burn-rate')]);
  expect(loaded.problems).toEqual([]);
  config = loaded.config;
  client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
});
afterAll(async () => {
  await prom?.stop();
});

const burst2 = () => config.slos.find((s) => s.name === 'burst-2') as RatioSlo;
/** burst-2 with a good query instead of a bad one: its bad rate is total − good, point by point. */
const goodForm = (): RatioSlo => {
  const slo = burst2();
  return {
    ...slo,
    id: 'bursts/burst-2-good',
    ratio: {
      good: 'sum(rate(burst_requests_total{app="burst-2", status="ok"}[$window]))',
      total: slo.ratio.total,
    },
  };
};
/** One SLO over both apps, an instance per app. */
const perApp = (): RatioSlo => {
  const slo = burst2();
  return {
    ...slo,
    id: 'bursts/per-app',
    ratio: {
      bad: 'sum by (app) (rate(burst_requests_total{app=~"burst-2|burst-20", status="error"}[$window]))',
      total: 'sum by (app) (rate(burst_requests_total{app=~"burst-2|burst-20"}[$window]))',
    },
  };
};

describe('long windows carried on from the last sums', () => {
  it('judge as a full read of 3 days ending at the same grid point, minute by minute, across a full read a day', async () => {
    for (const slo of [burst2(), goodForm(), perApp()]) {
      const cache = new LongWindowCache();
      const port = new Observed(client);
      // Through the bursts, then on past the daily full read (each SLO at its own phase of the day).
      const times = [
        ...Array.from({ length: 100 }, (_, m) => BURST - 10 * MIN + m * MIN),
        ...Array.from({ length: 25 }, (_, h) => BURST + 2 * HOUR + h * HOUR + 17 * MIN),
      ];
      for (const at of times) {
        const [carried, full] = [
          await cache.evaluate(port, slo, at, 'all'),
          await evaluateAt(client, slo, at, 'all', fullAnchoredRead),
        ];
        expect(rounded(carried), `${slo.id} at ${new Date(at).toISOString()}`).toEqual(rounded(full));
      }
      // One full read at the start, one a day; everything else read only the points since.
      expect(cache.refreshes, slo.id).toBe(2);
      expect(cache.increments, slo.id).toBeGreaterThan(40);
      expect(port.spans.filter((s) => s > 6 * HOUR).length, slo.id).toBe(slo.ratio.bad ? 2 * 3 : 2 * 2);
    }
  });

  it('fire and stop at the minutes a full read at the evaluation instant fires and stops', async () => {
    const slo = burst2();
    const cache = new LongWindowCache();
    const states = async (at: number) =>
      [await cache.evaluate(client, slo, at, 'problems'), await evaluateAt(client, slo, at, 'problems')].map((f) =>
        f.status === 'data' ? f.instances.map((i) => [i.state, i.severity]) : f.status,
      );
    let fired = 0;
    for (let m = 0; m <= 90; m++) {
      const [carried, exact] = await states(BURST + m * MIN);
      expect(carried, `minute ${m}`).toEqual(exact);
      if (JSON.stringify(exact).includes('breach')) fired++;
    }
    expect(fired).toBeGreaterThan(0);
  });

  it('SLOs evaluated together carry on together: one request per part and span', async () => {
    const slo = burst2();
    const copies = Array.from({ length: 30 }, (_, i) => ({ ...slo, id: `bursts/copy-${i}`, name: `copy-${i}` }));
    const cache = new LongWindowCache();
    const start = BURST - 60 * MIN;
    const tick = async (at: number) => {
      const port = new BatchingPort(client);
      await Promise.all(copies.map((c) => cache.evaluate(port, c, at, 'problems')));
      return port.requests;
    };
    // Cold: 3 days in 6h buckets (three queries) and 6 hours (two), 30 SLOs merged 40 to a request.
    expect(await tick(start)).toBe(5);
    expect(cache.refreshes).toBe(30);
    // A minute in which the grid point moves on: 6 hours (two queries), the points that entered (two) and left (two).
    const moved = Array.from({ length: 5 }, (_, m) => start + (m + 1) * MIN).find(
      (t) => anchorOf({ resMs: 5 * MIN }, t) > anchorOf({ resMs: 5 * MIN }, t - MIN),
    )!;
    for (let t = start + MIN; t < moved; t += MIN) expect(await tick(t)).toBe(2);
    expect(await tick(moved)).toBe(6);
    expect(cache.refreshes).toBe(30);
    expect(cache.increments).toBe(30);
  });

  it('the long windows end at most the settle delay and one base resolution before the evaluation', () => {
    for (const at of [BURST, BURST + 1, BURST + SETTLE_MS, BURST + SETTLE_MS + 5 * MIN - 1]) {
      const anchor = anchorOf({ resMs: 5 * MIN }, at);
      expect(anchor % (5 * MIN)).toBe(0);
      expect(at - anchor).toBeGreaterThanOrEqual(SETTLE_MS);
      expect(at - anchor).toBeLessThan(SETTLE_MS + 5 * MIN);
    }
    expect(bucketOf(5 * MIN, [3 * DAY])).toBe(6 * HOUR);
    expect(bucketOf(5 * MIN, [DAY, 3 * DAY])).toBe(6 * HOUR);
    expect(bucketOf(5 * MIN, [7 * HOUR])).toBe(3.5 * HOUR);
    expect(bucketOf(5 * MIN, [7 * HOUR + 5 * MIN])).toBe(85 * MIN);
    expect(bucketOf(5 * MIN, [6 * HOUR + 5 * MIN])).toBe(5 * MIN);
  });
});
