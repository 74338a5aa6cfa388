/**
 * What the budget keeper keeps of a 30-day SLO: per step only the newest 6 hours (from the block the 6h burn window
 * starts in), the window's first block and the 3d burn window's first block, block sums between (about 5 KB instead of
 * the 69 KB of 8,640 steps of two Float32 values), with the same budget figures as summing every step of the window.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BURN_WINDOWS, type Budget } from '../../src/budget/budget.js';
import { BudgetKeeper } from '../../src/budget/keeper.js';
import { budgetGrid, fetchBudgetSeries } from '../../src/budget/load.js';
import type { Labels } from '../../src/evaluator/labels.js';
import type { PrometheusPort, RangeSeries } from '../../src/evaluator/prometheus.js';
import { type Slo, loadRules } from '../../src/rules/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const WINDOW = 30 * DAY;
const AT = Date.parse('2026-11-01T00:00:00Z') + 17_000;

/**
 * Prometheus with 60 days of a service's rates at every step asked for: 1,000 requests a step, a few bad ones, and
 * bursts of errors in some hours, or `late.bad` bad a step after `late.after` (samples that arrived late). Answers merged
 * queries (BatchingPort's `sloe_query` label) part by part.
 */
function history(days = 60, late: { bad: number; after: number } = { bad: 0, after: Infinity }) {
  const value = (query: string, t: number) => {
    if (!query.includes('error')) return 1000 + ((t / MIN) % 13);
    if (t > late.after) return late.bad;
    const hour = Math.floor(t / HOUR);
    return (t / MIN) % 7 === 0 ? 3 : hour % 97 === 0 ? 40 + (hour % 5) : 0.5;
  };
  const port: PrometheusPort & { points: number } = {
    points: 0,
    instant: () => Promise.reject(new Error('no instant queries here')),
    range: async (query: string, start: number, end: number, stepMs: number): Promise<RangeSeries[]> => {
      const parts = [...query.matchAll(/label_replace\((.*?), "sloe_query", "(\d+)", "", ""\)/g)];
      const asked = parts.length ? parts.map((m) => ({ query: m[1]!, label: m[2]! })) : [{ query, label: undefined }];
      // The first step at or after the history's start.
      const from = start + Math.max(0, Math.ceil((AT - days * DAY - start) / stepMs)) * stepMs;
      const times = Float64Array.from({ length: Math.max(0, (end - from) / stepMs + 1) }, (_, k) => from + k * stepMs);
      port.points += times.length * asked.length;
      return asked.map(({ query: q, label }) => ({
        labels: (label === undefined ? {} : { sloe_query: label }) as Labels,
        times,
        values: times.map((t) => value(q, t)),
      }));
    },
  };
  return port;
}

let slo: Slo;

beforeAll(async () => {
  const loaded = await loadRules([join(ROOT, 'test/fixtures/slos/budget')]);
  const availability = loaded.config.slos.find((s) => s.name === 'availability' && s.kind === 'ratio')!;
  slo = { ...availability, windowMs: WINDOW } as Slo;
});

/** The budget figures summed step by step over the full window read in one go, as a plain reference. */
async function reference(port: PrometheusPort, at: number) {
  const grid = budgetGrid(WINDOW, at);
  const series = await fetchBudgetSeries(port, slo, grid);
  const n = series.total.length;
  const sums = (steps: number) => {
    let bad = 0;
    let total = 0;
    for (let i = Math.max(0, n - steps); i < n; i++) {
      if (Number.isNaN(series.total[i]!)) continue;
      total += series.total[i]!;
      if (!Number.isNaN(series.bad[i]!)) bad += series.bad[i]!;
    }
    return bad / total;
  };
  if (slo.kind !== 'ratio') throw new Error('a ratio SLO');
  const allowed = 1 - slo.objective;
  return {
    remaining: 1 - sums(WINDOW / grid.stepMs) / allowed,
    burn: Object.fromEntries(Object.entries(BURN_WINDOWS).map(([w, ms]) => [w, sums(ms / grid.stepMs) / allowed])),
  };
}

function expectFigures(budget: Budget | undefined, expected: Awaited<ReturnType<typeof reference>>) {
  expect(budget).toBeDefined();
  // Float32 per-step values, Float64 sums.
  const near = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(b)));
  near(budget!.budget.remaining, expected.remaining);
  for (const w of Object.keys(BURN_WINDOWS) as Array<keyof typeof BURN_WINDOWS>)
    near(budget!.burnRates[w], expected.burn[w]!);
}

describe('the budget kept of a 30-day SLO', () => {
  it('is about 5 KB instead of 69 KB, with the figures of every step summed', async () => {
    const port = history();
    let now = AT;
    const keeper = new BudgetKeeper({ prometheus: port, slos: () => [slo], now: () => now });
    const grid = budgetGrid(WINDOW, now);
    expect(grid.stepMs).toBe(5 * MIN);
    // Every step of the window per step, two Float32 values each: what was kept before.
    const perStep = (WINDOW / grid.stepMs) * 2 * 4;
    expect(perStep).toBe(69_120);
    let snapshot = await keeper.refresh();
    expectFigures(snapshot.bySlo.get(slo.id)?.budget, await reference(port, now));
    const bytes = keeper.keptBytes();
    console.info(`budget weights kept of a 30d SLO on a 5m grid: ${perStep} → ${bytes} bytes`);
    expect(bytes).toBeLessThanOrEqual(6 * 1024);
    // Refreshes a minute apart, then across many blocks: the same figures, and no more kept.
    for (const advance of [MIN, MIN, 5 * MIN, HOUR, 3 * HOUR + 7 * MIN, DAY + 11 * MIN]) {
      now += advance;
      const before = port.points;
      snapshot = await keeper.refresh();
      const read = port.points - before;
      expectFigures(snapshot.bySlo.get(slo.id)?.budget, await reference(port, now));
      expect(keeper.keptBytes()).toBeLessThanOrEqual(6 * 1024);
      // The new steps (and those that may still change), plus at most the first blocks of the window and of the 3d burn
      // window: never the window.
      expect(read).toBeLessThanOrEqual(2 * ((advance + 2 * MIN) / grid.stepMs + 2 + 2 * 36));
    }
  });

  it("draws a budget's burn-down later as of the budget's moment, after a refresh read its newest points anew", async () => {
    const late = { bad: 0, after: Infinity };
    const port = history(60, late);
    let now = AT;
    const keeper = new BudgetKeeper({ prometheus: port, slos: () => [slo], now: () => now });
    const earlier = (await keeper.refresh()).bySlo.get(slo.id)!.budget!;
    const drawn = earlier.burnDown();
    const points = { times: [...drawn.times], remaining: [...drawn.remaining] };
    // The newest point gains late samples: the next refresh, a minute later on the same 5m grid, reads it again.
    late.after = AT - 5 * MIN;
    late.bad = 500;
    now += MIN;
    const later = (await keeper.refresh()).bySlo.get(slo.id)!.budget!;
    expect(later.burnDown().remaining.at(-1)).toBeLessThan(points.remaining.at(-1)! - 1e-3);
    const again = earlier.burnDown();
    expect({ times: [...again.times], remaining: [...again.remaining] }).toEqual(points);
  });

  it('of an SLO whose data began 3 days ago is no more than those 3 days per step: the empty blocks are not kept', async () => {
    const port = history(3);
    let now = AT;
    const keeper = new BudgetKeeper({ prometheus: port, slos: () => [slo], now: () => now });
    const threeDays = ((3 * DAY) / (5 * MIN)) * 2 * 4;
    for (const advance of [0, MIN, 3 * HOUR + 7 * MIN]) {
      now += advance;
      const snapshot = await keeper.refresh();
      expectFigures(snapshot.bySlo.get(slo.id)?.budget, await reference(port, now));
      expect(keeper.keptBytes()).toBeLessThanOrEqual(threeDays + 37 * 2 * 4);
    }
  });
});
