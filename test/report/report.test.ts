import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { type LocalRedis, startRedis } from '../../src/local/redis.js';
import { ROOT, runSloe } from '../support/cli.js';
import { AT, DAY, HOUR, MIN, SLOW_FROM, shopHistory } from './history.js';

const SLOS = join(ROOT, 'test/fixtures/slos/budget');
const WEEK = 7 * DAY;

interface JsonSlo {
  service: string;
  slo: string;
  basis: string;
  objective: number;
  window: string;
  sli: number;
  budget: { total: number; spent: number; remaining: number };
  burnRates: Record<string, number>;
  exhaustedAt: string | null;
  state: string;
  incidents: Array<{ severity: string; reason: string; firedAt: string; resolvedAt: string | null; steps?: unknown[] }>;
}

let prometheus: LocalPrometheus;
let redis: LocalRedis;
beforeAll(async () => {
  [prometheus, redis] = await Promise.all([startPrometheus({ history: shopHistory() }), startRedis()]);
}, 180_000);
afterAll(() => Promise.all([prometheus?.stop(), redis?.stop()]));

const env = () => ({ PROMETHEUS_URL: prometheus.url, REDIS_URL: '', REDIS_SENTINELS: '' });
/** Within 0.1 percentage point (of budget, of SLI). */
const within = (actual: number, expected: number) =>
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThan(0.001);

async function reportJson(extra: string[] = [], environment: NodeJS.ProcessEnv = env()) {
  const r = await runSloe(['report', SLOS, '--at', new Date(AT).toISOString(), '--format', 'json', ...extra], {
    env: environment,
    timeoutMs: 120_000,
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const json = JSON.parse(r.stdout) as { at: string; incidentSource: string; slos: JsonSlo[] };
  return { json, slo: (name: string) => json.slos.find((s) => s.slo === name)! };
}

describe('sloe report against a history with known budgets', () => {
  it('every figure matches the hand-computed expectation within 0.1 percentage point', async () => {
    const { json, slo } = await reportJson();
    expect(json.at).toBe('2026-11-01T00:00:00Z');
    expect(json.incidentSource).toBe('backtest');

    // 0.5% errors against a 1% allowance: exactly half spent, burning at 0.5, the rest lasting another week.
    const availability = slo('availability');
    expect(availability).toMatchObject({
      service: 'shop',
      objective: 0.99,
      window: '1w',
      basis: 'events',
      state: 'healthy',
    });
    within(availability.sli, 0.995);
    within(availability.budget.total, 0.01);
    within(availability.budget.spent, 0.5);
    within(availability.budget.remaining, 0.5);
    for (const w of ['1h', '6h', '3d']) within(availability.burnRates[w]!, 0.5);
    expect(Date.parse(availability.exhaustedAt!) - AT).toBeCloseTo(WEEK, -5);
    // The workbook's ticket tier of a 7-day window fires above 10% × 7d / 3d = 0.233: a ticket, open all along.
    expect(availability.incidents).toMatchObject([
      { severity: 'ticket', firedAt: '2026-10-25T00:00:00Z', resolvedAt: null },
    ]);

    // 36,000 bad of 10,080,000: SLI 99.643%, 35.714% spent; burning at 10 over 1h and 6h, 36,000/4,320,000/1% over 3d.
    const checkout = slo('checkout');
    within(checkout.sli, 1 - 36_000 / 10_080_000);
    within(checkout.budget.spent, 36_000 / 10_080_000 / 0.01);
    within(checkout.budget.remaining, 1 - 36_000 / 10_080_000 / 0.01);
    within(checkout.burnRates['1h']! / 10, 1);
    within(checkout.burnRates['6h']! / 10, 1);
    within(checkout.burnRates['3d']!, 36_000 / 4_320_000 / 0.01);
    // 64.29% left at a burn of 10: 0.6429 × 7d / 10 = 10.8 hours.
    expect((Date.parse(checkout.exhaustedAt!) - AT) / HOUR).toBeCloseTo(10.8, 1);
    expect(checkout.state).toBe('burning');
    // Burning 10× for 6 hours pages (the 1h and 6h tiers) and is still open at the end.
    expect(checkout.incidents).toHaveLength(1);
    expect(checkout.incidents[0]).toMatchObject({ severity: 'page', resolvedAt: null });

    // 60 of 10,080 minutes over 1 s: time-based SLI 99.405%, 59.52% of a 1% time budget spent.
    const latency = slo('latency-p95');
    expect(latency).toMatchObject({ basis: 'time', objective: 0.99, window: '30d' });
    // The 30-day window starts 20 days before the history: no data there is a ticket that says so.
    expect(latency.incidents.map((i) => `${i.severity} ${i.reason}`)).toEqual(['ticket nodata', 'page breach']);
    const incident = latency.incidents.find((i) => i.reason === 'breach');
    // Over 1.5 s from SLOW_FROM, held for 5m; back under for the default resolveAfter of 5m after the hour.
    expect(Date.parse(incident!.firedAt)).toBe(SLOW_FROM + 5 * MIN);
    expect(Date.parse(incident!.resolvedAt!)).toBe(SLOW_FROM + HOUR + 5 * MIN);
    expect(incident!.steps).toHaveLength(2);
  }, 180_000);

  it('--window 7d gives the threshold SLO a 7-day time budget: 60 minutes in breach is 59.52% of it', async () => {
    const { slo } = await reportJson(['--window', '7d']);
    const latency = slo('latency-p95');
    expect(latency.window).toBe('1w');
    within(latency.sli, 1 - 60 / 10_080);
    within(latency.budget.spent, 60 / 10_080 / 0.01);
    // The ratio SLOs keep their figures: their window was 7d already.
    within(slo('availability').budget.spent, 0.5);
  }, 180_000);

  it('the 30-day window of the threshold SLO reaches before the history: only minutes with data count', async () => {
    const { slo } = await reportJson();
    // 10 days of history in a 30-day window: 60 of 14,400 minutes in breach.
    within(slo('latency-p95').budget.spent, 60 / 14_400 / 0.01);
  }, 180_000);

  it('reads incidents from Redis when REDIS_URL is set, and says so', async () => {
    const { json } = await reportJson(['--slo', 'shop/availability'], {
      ...env(),
      REDIS_URL: redis.url,
      SLOE_REDIS_PREFIX: 'report-test',
    });
    expect(json.incidentSource).toBe('redis');
    expect(json.slos.map((s) => s.slo)).toEqual(['availability']);
  }, 60_000);

  it('an unreachable Redis is an error that says what to do, not a report without incidents', async () => {
    const r = await runSloe(['report', SLOS, '--at', String(AT / 1000)], {
      env: { ...env(), REDIS_URL: 'redis://127.0.0.1:1' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read incidents from Redis .*unset REDIS_URL/);
    expect(r.stdout).toBe('');
  }, 60_000);

  it('text and markdown show the same figures for people, with the dashboard owner, escaped', async () => {
    const text = await runSloe(['report', SLOS, '--at', String(AT / 1000), '--window', '7d'], {
      env: env(),
      timeoutMs: 120_000,
    });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/incidents replayed from Prometheus history/);
    expect(text.stdout).toMatch(
      /shop\/availability\s+99\.0%\s+1w\s+99\.500%\s+50\.0%\s+0\.50× 0\.50× 0\.50×\s+in 7d\s+healthy\s+1/,
    );
    expect(text.stdout).toMatch(/shop\/checkout .* 64\.3% .* 10\.00× 10\.00× 0\.83× .* in 10h 48m\s+BURNING\s+1/);
    expect(text.stdout).toMatch(/shop\/latency-p95\s+99\.0% of time\s+1w\s+99\.405%\s+40\.5%/);
    expect(text.stdout).toMatch(/shop-overview \(owner dana\)/);
    const md = await runSloe(['report', SLOS, '--at', String(AT / 1000), '--format', 'markdown'], {
      env: env(),
      timeoutMs: 120_000,
    });
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/^\| SLO \| Owner \|/m);
    expect(md.stdout).toContain(
      '| shop/**availability** | dana ([Shop \\<overview\\> & errors](https://grafana.example.com/d/shop)) | 99.0% | 1w | 99.500% | 50.0% | 0.50× / 0.50× / 0.50× | in 7d | 🟢 healthy | 1 |',
    );
  }, 180_000);
});
