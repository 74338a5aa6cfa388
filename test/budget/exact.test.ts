/**
 * The budget keeper keeps an SLO's weights compactly (per step only the newest 6 hours and the first blocks of the
 * window and of the 3d burn window, block sums between) and reads a block's steps again when a window starts in it or
 * the budget ran out in it: its figures must be those of summing every step of the window, at every refresh, whatever
 * the data (gaps, negative rates from `good` queries, data that began lately) and however far apart the refreshes.
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BURN_DOWN_POINTS, BURN_WINDOWS, type Budget } from '../../src/budget/budget.js';
import { BudgetKeeper } from '../../src/budget/keeper.js';
import { budgetGrid, sloBudget } from '../../src/budget/load.js';
import type { Labels } from '../../src/evaluator/labels.js';
import type { PrometheusPort, RangeSeries } from '../../src/evaluator/prometheus.js';
import { type Slo, loadRules } from '../../src/rules/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const AT = Date.parse('2026-11-01T00:00:00Z') + 17_000;
const OBJECTIVE = 0.99;

let availability: Slo;

beforeAll(async () => {
  const loaded = await loadRules([join(ROOT, 'test/fixtures/slos/budget')]);
  availability = loaded.config.slos.find((s) => s.name === 'availability' && s.kind === 'ratio')!;
  expect(availability.kind === 'ratio' && availability.objective).toBe(OBJECTIVE);
});

/** A number in [0, 1) from a step index and a salt. */
function hash(i: number, salt: number): number {
  let x = Math.imul(i | 0, 0x9e3779b1) ^ Math.imul(salt | 0, 0x85ebca6b);
  x ^= x >>> 15;
  x = Math.imul(x, 0x2c1b3c6d);
  x ^= x >>> 12;
  x = Math.imul(x, 0x297a2d39);
  x ^= x >>> 15;
  return (x >>> 0) / 2 ** 32;
}

interface Data {
  seed: number;
  /** Bad events a step, about. */
  level: number;
  /** Steps of no data (a total without a point), and of a bad rate without a point (counted as 0 bad). */
  gaps: number;
  /** Steps whose bad rate is negative (a `good` rate above the total's). */
  negative: number;
  /** Bad events added and taken away at every other step: a running sum that goes up and down within a block. */
  swing: number;
  /** Whole numbers of events: exact in Float32 and in any order of summing, so that figures compare exactly. */
  burst: { from: number; to: number; bad: number };
  /** No data before this time. */
  since: number;
}

/** The weights of step `i` (an absolute index on a grid of `stepMs`): [bad, total], NaN for no point. */
function weightsAt(d: Data, i: number, stepMs: number): [number, number] {
  const t = i * stepMs;
  if (t < d.since || hash(i, d.seed) < d.gaps) return [NaN, NaN];
  const total = 900 + Math.floor(hash(i, d.seed + 1) * 200);
  if (hash(i, d.seed + 2) < d.gaps / 2) return [NaN, total];
  let bad = Math.floor(hash(i, d.seed + 3) * (2 * d.level + 1));
  if (t >= d.burst.from && t < d.burst.to) bad += d.burst.bad;
  if (hash(i, d.seed + 4) < d.negative) bad -= Math.floor(hash(i, d.seed + 5) * 60);
  bad += i % 2 === 0 ? d.swing : -d.swing;
  return [bad, total];
}

/**
 * Prometheus answering the SLO's two queries (merged by BatchingPort or not) from `weightsAt`: the weights as rates
 * (a budget's figures are ratios of them, whatever their unit).
 */
function prometheus(d: Data): PrometheusPort {
  return {
    instant: () => Promise.reject(new Error('no instant queries here')),
    range: async (query: string, start: number, end: number, stepMs: number): Promise<RangeSeries[]> => {
      const parts = [...query.matchAll(/label_replace\((.*?), "sloe_query", "(\d+)", "", ""\)/g)];
      const asked = parts.length ? parts.map((m) => ({ query: m[1]!, label: m[2] })) : [{ query, label: undefined }];
      return asked.map(({ query: q, label }) => {
        const times: number[] = [];
        const values: number[] = [];
        for (let t = start; t <= end; t += stepMs) {
          const v = weightsAt(d, Math.round(t / stepMs), stepMs)[q.includes('error') ? 0 : 1];
          if (Number.isNaN(v)) continue;
          times.push(t);
          values.push(v);
        }
        return {
          labels: (label === undefined ? {} : { sloe_query: label }) as Labels,
          times: Float64Array.from(times),
          values: Float64Array.from(values),
        };
      });
    },
  };
}

/**
 * The figures summed step by step over the window: the SLI and budget, the burn rates, the burn-down's points, and
 * when the budget ran out, to the step within the 3d burn window's first block and after it and in the window's
 * first block, else the last step of the block it ran out in.
 */
function reference(d: Data, windowMs: number, at: number) {
  const { stepMs, end } = budgetGrid(windowMs, at);
  const last = end / stepMs;
  const windowSteps = windowMs / stepMs;
  const first = last + 1 - windowSteps;
  const B = Math.max(1, Math.ceil(windowSteps / BURN_DOWN_POINTS));
  const steps = Array.from({ length: last + 1 - first }, (_, k) => {
    const [bad, total] = weightsAt(d, first + k, stepMs);
    return Number.isNaN(total!) ? { bad: 0, total: 0 } : { bad: Number.isNaN(bad!) ? 0 : bad!, total: total! };
  });
  const sums = (from: number) => {
    let bad = 0;
    let total = 0;
    for (let i = Math.max(from, first); i <= last; i++) {
      bad += steps[i - first]!.bad;
      total += steps[i - first]!.total;
    }
    return { bad, total };
  };
  // Steps of the burn windows before the SLO window's (a window shorter than 3d) from the grid too.
  const burn = (ms: number) => {
    let bad = 0;
    let total = 0;
    for (let i = last + 1 - ms / stepMs; i <= last; i++) {
      const [b, t] = weightsAt(d, i, stepMs);
      if (Number.isNaN(t!)) continue;
      total += t!;
      if (!Number.isNaN(b!)) bad += b!;
    }
    return total > 0 ? bad / total / (1 - OBJECTIVE) : NaN;
  };
  const w = sums(first);
  const allowed = 1 - OBJECTIVE;
  const allowance = allowed * w.total;
  const remaining = 1 - w.bad / w.total / allowed;
  const burnRates = Object.fromEntries(Object.entries(BURN_WINDOWS).map(([k, ms]) => [k, burn(ms)]));
  const times: number[] = [];
  const left: number[] = [];
  let ranOutAt: number | null = null;
  const longFrom = Math.floor((last + 1 - BURN_WINDOWS['3d'] / stepMs) / B) * B;
  const firstBlockEnd = Math.floor(first / B) * B + B - 1;
  let bad = 0;
  for (let i = first; i <= last; i++) {
    bad += steps[i - first]!.bad;
    if (i === first || (i + 1) % B === 0 || i === last) {
      times.push(i * stepMs);
      left.push(allowance > 0 ? 1 - bad / allowance : NaN);
    }
    const toTheStep = i <= firstBlockEnd || i >= longFrom;
    if (ranOutAt === null && allowance > 0 && (toTheStep || (i + 1) % B === 0) && 1 - bad / allowance <= 1e-12)
      ranOutAt = i * stepMs;
  }
  const lasting = (b: number) => (remaining > 0 && b > 0 && Number.isFinite(b) ? (remaining * windowMs) / b : null);
  const at6h = lasting(burnRates['6h']!);
  return {
    remaining: w.total > 0 ? remaining : NaN,
    burnRates,
    timeLeftMs: w.total > 0 ? lasting(burnRates['1h']!) : null,
    exhaustedAt: !(w.total > 0) ? null : remaining <= 0 ? ranOutAt : at6h === null ? null : at + at6h,
    burnDown: { times, remaining: left },
  };
}

function expectFigures(b: Budget, expected: ReturnType<typeof reference>, what: string) {
  const same = (actual: number | null, wanted: number | null, name: string) => {
    if (wanted === null || Number.isNaN(wanted)) expect(actual, `${what}: ${name}`).toEqual(wanted);
    else
      expect(Math.abs(actual! - wanted), `${what}: ${name} ${actual} ≠ ${wanted}`).toBeLessThanOrEqual(
        1e-9 * Math.max(1, Math.abs(wanted)),
      );
  };
  same(b.budget.remaining, expected.remaining, 'remaining');
  for (const [k, v] of Object.entries(expected.burnRates)) same(b.burnRates[k as keyof typeof b.burnRates], v, k);
  same(b.timeLeftMs, expected.timeLeftMs, 'time left');
  // When the budget ran out is a grid time: exactly.
  expect(b.exhaustedAt, `${what}: exhausted at`).toBe(expected.exhaustedAt);
  const drawn = b.burnDown();
  expect([...drawn.times], `${what}: burn-down times`).toEqual(expected.burnDown.times);
  drawn.remaining.forEach((v, k) => same(v, expected.burnDown.remaining[k]!, `burn-down ${k}`));
}

describe('the budgets the keeper computes from compact weights', () => {
  it('are those of summing every step, refresh after refresh', async () => {
    let exhaustedLately = 0;
    let failedRefreshes = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1 * HOUR, 12 * HOUR, 16 * HOUR, DAY, 2 * DAY, 3 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 90 * DAY),
        fc.record({
          seed: fc.integer({ min: 0, max: 1 << 20 }),
          level: fc.integer({ min: 0, max: 12 }),
          gaps: fc.constantFrom(0, 0.05, 0.3),
          negative: fc.constantFrom(0, 0, 0.2, 0.5),
          swing: fc.constantFrom(0, 0, 500),
          burstBefore: fc.integer({ min: 0, max: 5 * 24 * 60 }),
          burstMinutes: fc.integer({ min: 0, max: 5 * 24 * 60 }),
          burstBad: fc.integer({ min: 0, max: 600 }),
          historyDays: fc.integer({ min: 1, max: 100 }),
          // Refreshes during which Prometheus fails its `failAt`-th request (0: none fails).
          failAt: fc.integer({ min: 0, max: 3 }),
          failing: fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
        }),
        fc.array(
          fc.constantFrom(MIN, 3 * MIN, 7 * MIN, 40 * MIN, 3 * HOUR + 7 * MIN, 19 * HOUR, 2 * DAY + MIN, 4 * DAY),
          { minLength: 1, maxLength: 6 },
        ),
        async (windowMs, p, advances) => {
          const end = AT + advances.reduce((a, b) => a + b, 0);
          const d: Data = {
            seed: p.seed,
            level: p.level,
            gaps: p.gaps,
            negative: p.negative,
            swing: p.swing,
            burst: {
              from: end - p.burstBefore * MIN,
              to: end - p.burstBefore * MIN + p.burstMinutes * MIN,
              bad: p.burstBad,
            },
            since: end - p.historyDays * DAY,
          };
          const port = prometheus(d);
          // A failed read keeps what was kept: the next refresh reads what it missed, and its figures are exact.
          let failIn = 0;
          const flaky: PrometheusPort = {
            instant: port.instant,
            range: (...args) => (--failIn === 0 ? Promise.reject(new Error('Prometheus failed')) : port.range(...args)),
          };
          const slo = { ...availability, windowMs } as Slo;
          let now = AT;
          const keeper = new BudgetKeeper({ prometheus: flaky, slos: () => [slo], now: () => now });
          for (const [k, advance] of [0, ...advances].entries()) {
            now += advance;
            if (p.failAt > 0 && p.failing[k]) {
              failIn = p.failAt;
              if ((await keeper.refresh()).bySlo.get(slo.id)!.error !== undefined) failedRefreshes++;
              failIn = 0;
            }
            const entry = (await keeper.refresh()).bySlo.get(slo.id)!;
            expect(entry.error).toBeUndefined();
            const expected = reference(d, windowMs, now);
            const what = `${windowMs / HOUR}h window at +${(now - AT) / MIN} min`;
            expectFigures(entry.budget!, expected, what);
            expectFigures(await sloBudget(port, slo, now), expected, `${what}, read in full`);
            const { stepMs, end: newest } = budgetGrid(windowMs, now);
            const blockMs = Math.max(1, Math.ceil(windowMs / stepMs / BURN_DOWN_POINTS)) * stepMs;
            if (
              expected.exhaustedAt !== null &&
              expected.exhaustedAt <= now - 6 * HOUR - blockMs &&
              expected.exhaustedAt > newest - 3 * DAY + blockMs &&
              (expected.exhaustedAt + stepMs) % blockMs !== 0
            )
              exhaustedLately++;
          }
        },
      ),
      { numRuns: 120 },
    );
    // Budgets that ran out between the 3d window's first block and the newest 6 hours, told to the step inside a
    // block: the case the block peaks and a read of the block are there for.
    console.info(`budgets that ran out inside a block of the last 3 days: ${exhaustedLately}`);
    expect(exhaustedLately).toBeGreaterThan(5);
    console.info(`refreshes that failed a read before the one checked: ${failedRefreshes}`);
    expect(failedRefreshes).toBeGreaterThan(20);
  }, 120_000);
});

describe('data Prometheus changed after a block was read', () => {
  it('a block the budget no longer ran out in is folded again from its new steps: stable figures, those of a full read', async () => {
    // A 7d window: a 2m grid, blocks of 21 steps. The budget runs out at X, 2 hours before the first refresh, and
    // again at Y, 4 hours after it; X is corrected in Prometheus (its errors removed) long after it was read.
    const STEP = 2 * MIN;
    const X = Math.floor((AT - 2 * HOUR) / STEP) * STEP;
    const Y = Math.floor((AT + 4 * HOUR) / STEP) * STEP;
    let now = AT;
    let xBad = 60_000;
    let reads = 0;
    const value = (bad: boolean, t: number) => (!bad ? 1000 : t === X ? xBad : t === Y ? 60_000 : 0);
    const port: PrometheusPort = {
      instant: () => Promise.reject(new Error('no instant queries here')),
      range: async (query, start, end, step): Promise<RangeSeries[]> => {
        reads++;
        const parts = [...query.matchAll(/label_replace\((.*?), "sloe_query", "(\d+)", "", ""\)/g)];
        const asked = parts.length ? parts.map((m) => ({ q: m[1]!, label: m[2] })) : [{ q: query, label: undefined }];
        return asked.map(({ q, label }) => {
          const times: number[] = [];
          for (let t = start; t <= end; t += step) if (t <= now) times.push(t);
          return {
            labels: (label === undefined ? {} : { sloe_query: label }) as Labels,
            times: Float64Array.from(times),
            values: Float64Array.from(times, (t) => value(q.includes('error'), t)),
          };
        });
      },
    };
    const slo = { ...availability, windowMs: 7 * DAY } as Slo;
    const keeper = new BudgetKeeper({ prometheus: port, slos: () => [slo], now: () => now });
    await keeper.refresh();
    xBad = 0;
    now = AT + 12 * HOUR;
    const seen: Array<{ remaining: number; exhaustedAt: number | null; reads: number }> = [];
    for (let k = 0; k < 4; k++, now += MIN) {
      reads = 0;
      const budget = (await keeper.refresh()).bySlo.get(slo.id)!.budget!;
      seen.push({ remaining: budget.budget.remaining, exhaustedAt: budget.exhaustedAt, reads });
      const full = await sloBudget(port, slo, now);
      expect(budget.budget.remaining).toBeCloseTo(full.budget.remaining, 9);
      expect(budget.exhaustedAt).toBe(full.exhaustedAt);
    }
    // Once X is folded again, later refreshes read only the newest points (one merged request for both queries).
    expect(seen.slice(1).map((s) => s.reads)).toEqual([1, 1, 1]);
  });
});
