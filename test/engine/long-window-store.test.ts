/**
 * `sloe run` keeps its long burn-rate windows in Redis: a restarted replica (or one taking over an SLO) reads the 3d
 * sums from there and only the points since instead of 3 days of base rates, and judges exactly as the replica that
 * read them; a changed SLO never reuses the sums of its earlier form; a Redis that does not answer is logged and
 * Prometheus read instead.
 * Real Prometheus (loaded with 4 days of history) and real Redis.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Evaluation } from '../../src/engine/evaluation.js';
import { RedisLongWindowStore } from '../../src/engine/long-window-store.js';
import { RedisIncidentStore } from '../../src/engine/store.js';
import { EngineMetrics } from '../../src/observability/metrics.js';
import { PrometheusClient, evaluateAt, prometheusConfigFromEnv } from '../../src/evaluator/index.js';
import { LongWindowCache } from '../../src/evaluator/long-windows.js';
import type { PrometheusPort } from '../../src/evaluator/prometheus.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { type LocalRedis, startRedis } from '../../src/local/redis.js';
import { createLogger } from '../../src/observability/log.js';
import type { RatioSlo } from '../../src/rules/model.js';
import { type Config, loadRules } from '../../src/rules/index.js';
import { DAY, MIN, burstHistory } from '../support/assistant-history.js';
import { ROOT } from '../support/cli.js';
import { LogCapture } from '../support/engine.js';
import { Observed, fullAnchoredRead } from '../support/windows.js';

const FROM = Date.parse('2026-09-01T00:00:00Z');
const TO = FROM + 4 * DAY;
const BURST = FROM + 3 * DAY + 12 * 60 * MIN;
const HOUR = 60 * MIN;

/**
 * A frame with its numbers to 9 significant digits: the same window summed from 3 days of base rates or from 6 hours
 * differs in the last bits.
 */
const rounded = (frame: unknown) =>
  JSON.parse(
    JSON.stringify(frame, (_, v: unknown) => (typeof v === 'number' ? Number(v.toPrecision(9)) : v)),
  ) as unknown;

let prom: LocalPrometheus;
let redis: LocalRedis;
let client: Redis;
let config: Config;
let prefix = 0;

beforeAll(async () => {
  [prom, redis] = await Promise.all([
    startPrometheus({ history: burstHistory('burst-2', 0.02, BURST, 60, FROM, TO) }),
    startRedis(),
  ]);
  client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  const loaded = await loadRules([join(ROOT, 'test/fixtures/slos/burn-rate')]);
  expect(loaded.problems).toEqual([]);
  config = loaded.config;
});
afterAll(async () => {
  client?.disconnect();
  await Promise.all([prom?.stop(), redis?.stop()]);
});

function setup() {
  const slo = config.slos.find((s) => s.name === 'burst-2') as RatioSlo;
  const store = new RedisLongWindowStore(client, `test${prefix++}:`);
  const capture = new LogCapture();
  const log = createLogger({ LOG_LEVEL: 'debug' }, capture);
  const port = () => new Observed(new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url }));
  return { slo, store, capture, log, port };
}

describe('the long windows of sloe run in Redis', () => {
  it('a restarted replica reads the 3d sums from Redis, 6 hours from Prometheus, and judges as the first one', async () => {
    const { slo, store, log, port } = setup();
    const first = new LongWindowCache({ store, log });
    const before = port();
    await first.evaluate(before, slo, BURST + 30 * MIN, 'all');
    expect(first.refreshes).toBe(1);
    expect(Math.max(...before.spans)).toBeGreaterThan(2 * DAY);
    // The write is not awaited by the evaluation: wait until it is there.
    await expect.poll(() => store.load(slo.id)).toBeDefined();

    const restarted = new LongWindowCache({ store, log });
    const after = port();
    for (const minute of [31, 40, 44]) {
      const at = BURST + minute * MIN;
      const frame = await restarted.evaluate(after, slo, at, 'all');
      expect(rounded(frame), `minute ${minute}`).toEqual(rounded(await first.evaluate(port(), slo, at, 'all')));
    }
    // Minute 31 read the sums from Redis and 6 hours from Prometheus; later minutes carried them on from the points
    // that entered and left the 3d window since: 3 days were never read again.
    expect(restarted.storeHits).toBeGreaterThanOrEqual(1);
    expect(restarted.refreshes).toBe(0);
    expect(restarted.increments).toBeGreaterThanOrEqual(1);
    expect(after.spans.every((s) => s < 6 * HOUR)).toBe(true);
    // At minute 44 the burst fires its page, from the 1h tier, as an exact evaluation says.
    const exact = await evaluateAt(port(), slo, BURST + 44 * MIN);
    const page = (f: typeof exact) => (f.status === 'data' ? f.instances.map((i) => [i.state, i.severity]) : f.status);
    expect(page(await restarted.evaluate(port(), slo, BURST + 44 * MIN, 'all'))).toEqual(page(exact));
    expect(page(exact)).toEqual([['breach', 'page']]);
  });

  it('a stored entry older than 6 hours is not carried on: the next replica reads 3 days', async () => {
    const { slo, store, log, port } = setup();
    await new LongWindowCache({ store, log }).evaluate(port(), slo, BURST, 'all');
    await expect.poll(() => store.load(slo.id)).toBeDefined();
    // Within 6 hours a replica carries the stored sums on from the points since.
    const soon = new LongWindowCache({ store, log });
    await soon.evaluate(port(), slo, BURST + 16 * MIN, 'all');
    expect([soon.storeHits, soon.increments, soon.refreshes]).toEqual([1, 1, 0]);
    // Later than that, catching up would read more than a full read in buckets: the stored sums are not used.
    const later = new LongWindowCache({ store, log });
    await later.evaluate(port(), slo, BURST + 7 * HOUR, 'all');
    expect(later.storeHits).toBe(0);
    expect(later.refreshes).toBe(1);
    expect(await client.pttl(`test${prefix - 1}:longwin:${slo.id}`)).toBeLessThanOrEqual(6 * HOUR + 7 * MIN);
  });

  it('a changed SLO does not reuse the sums of its earlier form', async () => {
    const { slo, store, log, port } = setup();
    await new LongWindowCache({ store, log }).evaluate(port(), slo, BURST, 'all');
    await expect.poll(() => store.load(slo.id)).toBeDefined();
    const changed: RatioSlo = { ...slo, ratio: { ...slo.ratio, total: `${slo.ratio.total} * 1` } };
    const cache = new LongWindowCache({ store, log });
    const frame = await cache.evaluate(port(), changed, BURST + MIN, 'all');
    expect(cache.storeHits).toBe(0);
    expect(cache.refreshes).toBe(1);
    expect(rounded(frame)).toEqual(rounded(await evaluateAt(port(), changed, BURST + MIN, 'all', fullAnchoredRead)));
  });

  it('a Redis that does not answer is logged and Prometheus read instead', async () => {
    const { slo, store, capture, log, port } = setup();
    const cache = new LongWindowCache({ store, log });
    redis.pause();
    try {
      const frame = await cache.evaluate(port(), slo, BURST + 44 * MIN, 'all');
      expect(rounded(frame)).toEqual(rounded(await evaluateAt(port(), slo, BURST + 44 * MIN, 'all', fullAnchoredRead)));
      expect(cache.refreshes).toBe(1);
      expect(capture.events('long-windows-store-failed').length).toBeGreaterThan(0);
    } finally {
      redis.resume();
    }
  });

  it("a restarted engine's evaluation reads the long windows from Redis, and stores the state the first one would", async () => {
    const { slo, store, log, port } = setup();
    const incidents = new RedisIncidentStore(client, `test${prefix++}:`);
    const evaluation = (prometheus: PrometheusPort) =>
      new Evaluation({
        store: incidents,
        prometheus,
        config: () => config,
        log,
        metrics: new EngineMetrics(async () => ({})),
        now: () => BURST + 30 * MIN,
        scheduleSteps: async () => undefined,
        queueUpdate: async () => undefined,
        longWindowStore: store,
      });
    const before = port();
    expect(await evaluation(before).tick(slo, BURST + 30 * MIN)).toBe('evaluated');
    expect(Math.max(...before.spans)).toBeGreaterThan(2 * DAY);
    await expect.poll(() => store.load(slo.id)).toBeDefined();

    const after = port();
    const restarted = evaluation(after);
    expect(await restarted.tick(slo, BURST + 31 * MIN)).toBe('evaluated');
    expect(restarted.longWindows.storeHits).toBe(1);
    expect(restarted.longWindows.refreshes).toBe(0);
    expect(after.spans).toHaveLength(2);
    expect(Math.max(...after.spans)).toBeLessThan(6 * HOUR);
    // The state it stored is the one an exact evaluation makes: healthy, 31 minutes into the 2% burst.
    const exact = await evaluateAt(port(), slo, BURST + 31 * MIN);
    expect(exact.status === 'data' && exact.instances.map((i) => i.state)).toEqual(['ok']);
    const state = await incidents.loadState(slo.id);
    expect(state.evaluatedAt).toBe(BURST + 31 * MIN);
    expect(Object.values(state.instances).map((i) => i.phase)).toEqual(['ok']);
  });
});
