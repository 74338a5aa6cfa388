import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BURN_DOWN_POINTS,
  type Budget,
  type BudgetSeries,
  budgetHealth,
  computeBudget,
} from '../../src/budget/budget.js';
import { burnDownChart, sparkline } from '../../src/status/chart.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const STEP = 5 * MIN;
const WINDOW = 30 * DAY;
const AT = Date.parse('2026-11-01T00:00:00Z');
/** Steps of one window; the series below cover exactly the window ending at AT. */
const N = WINDOW / STEP;
const START = AT - (N - 1) * STEP;

/** 1,000 events a step, `bad(i)` of them bad. */
function events(bad: (i: number) => number): BudgetSeries {
  return {
    start: START,
    stepMs: STEP,
    bad: Array.from({ length: N }, (_, i) => bad(i)),
    total: new Array<number>(N).fill(1000),
  };
}

/** The budget of a window without any data. */
const noData = () =>
  computeBudget(
    { start: START, stepMs: STEP, bad: new Array<number>(N).fill(NaN), total: new Array<number>(N).fill(NaN) },
    0.99,
    WINDOW,
    AT,
    'events',
  );

/** A budget with its burn-down drawn: the figures and points of two budgets compare as data. */
const drawn = (b: Budget) => ({ ...b, burnDown: b.burnDown() });

/** Within 0.1 percentage point. */
const close = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThan(0.001);

describe('error budget of a 99% / 30d ratio SLO', () => {
  it('0.5% bad events all along spend exactly half the budget and exhaust it in another 30 days', () => {
    const b = computeBudget(
      events(() => 5),
      0.99,
      WINDOW,
      AT,
      'events',
    );
    close(b.sli, 0.995);
    close(b.budget.total, 0.01);
    close(b.budget.spent, 0.5);
    close(b.budget.remaining, 0.5);
    for (const w of ['1h', '6h', '3d'] as const) close(b.burnRates[w], 0.5);
    // 50% left at a burn of 0.5 (half the sustainable pace) lasts a whole window.
    expect(b.timeLeftMs).toBeCloseTo(WINDOW, -3);
    expect(b.exhaustedAt! - AT).toBeCloseTo(WINDOW, -3);
    // The burn-down falls in a straight line from 100% to 50%.
    const { times, remaining } = b.burnDown();
    expect(times[0]).toBe(START);
    expect([times.at(-1), remaining.at(-1)]).toEqual([AT, b.budget.remaining]);
    const middle = Math.floor(remaining.length / 2);
    close(remaining[middle]!, 1 - (0.5 * (times[middle]! - START + STEP)) / WINDOW);
    expect(budgetHealth(b)).toBe('healthy');
  });

  it('10% bad events over the last 6 hours: burn 10 over 1h and 6h, 0.8333 over 3d, 8.33% spent', () => {
    const last6h = N - (6 * HOUR) / STEP;
    const b = computeBudget(
      events((i) => (i >= last6h ? 100 : 0)),
      0.99,
      WINDOW,
      AT,
      'events',
    );
    close(b.budget.spent, (72 * 100) / (N * 1000) / 0.01);
    close(b.budget.spent, 0.08333);
    close(b.burnRates['1h'], 10);
    close(b.burnRates['6h'], 10);
    close(b.burnRates['3d'], 0.8333);
    // 91.67% left at burn 10: 0.9167 × 30d / 10 = 2.75 days.
    expect(b.timeLeftMs! / DAY).toBeCloseTo(2.75, 2);
    expect((b.exhaustedAt! - AT) / DAY).toBeCloseTo(2.75, 2);
    expect(budgetHealth(b)).toBe('burning');
  });

  it('2% bad events all along overspend it twice: remaining −100%, exhausted half-way through the window', () => {
    const b = computeBudget(
      events(() => 20),
      0.99,
      WINDOW,
      AT,
      'events',
    );
    close(b.budget.spent, 2);
    close(b.budget.remaining, -1);
    // 20 bad a step against an allowance of 0.01 × 8,640,000 = 86,400: gone after 4,320 steps, 15 days ago: told to
    // the last step of the burn-down block (36 steps, 3 hours) it ran out in.
    const block = 36 * STEP;
    expect(b.exhaustedAt).toBe(Math.floor((START + 4319 * STEP) / block) * block + block - STEP);
    // Within the last 3 days it is to the step: 200 bad a step from 1,000 steps before AT spend it after 432 steps.
    const late = computeBudget(
      events((i) => (i >= N - 1000 ? 200 : 0)),
      0.99,
      WINDOW,
      AT,
      'events',
    );
    expect(late.exhaustedAt).toBe(START + (N - 1000 + 431) * STEP);
    expect(b.timeLeftMs).toBeNull();
    expect(budgetHealth(b)).toBe('exhausted');
  });

  it('steps without data count neither as good nor as bad', () => {
    const s = events(() => 5);
    const total = Array.from(s.total);
    const bad = Array.from(s.bad);
    for (let i = 0; i < N / 2; i++) {
      total[i] = NaN;
      bad[i] = NaN;
    }
    const b = computeBudget({ ...s, total, bad }, 0.99, WINDOW, AT, 'events');
    close(b.budget.spent, 0.5);
  });

  it('a series that leaves out the older steps without data gives the budget of the whole window', () => {
    const whole = events((i) => (i % 7 === 0 ? 30 : 2));
    const total = Array.from(whole.total);
    const bad = Array.from(whole.bad);
    const empty = N / 3;
    for (let i = 0; i < empty; i++) {
      total[i] = NaN;
      bad[i] = NaN;
    }
    const padded = computeBudget({ ...whole, total, bad }, 0.99, WINDOW, AT, 'events');
    const trimmed = computeBudget(
      { start: START + empty * STEP, stepMs: STEP, bad: bad.slice(empty), total: total.slice(empty) },
      0.99,
      WINDOW,
      AT,
      'events',
    );
    expect(drawn(trimmed)).toEqual(drawn(padded));
    const { times, remaining } = trimmed.burnDown();
    expect([times[0], remaining[0]]).toEqual([START, 1]);
    // With no step left at all, the same as a window of no data.
    const none = computeBudget({ start: AT + STEP, stepMs: STEP, bad: [], total: [] }, 0.99, WINDOW, AT, 'events');
    expect(drawn(none)).toEqual(drawn(noData()));
  });

  it('a window without any data has no figures and says so', () => {
    const b = noData();
    expect(b.sli).toBeNaN();
    expect(b.budget.remaining).toBeNaN();
    expect(b.exhaustedAt).toBeNull();
    expect(budgetHealth(b)).toBe('nodata');
  });
});

describe('time-based budget of a threshold SLO (99% of the time within the objective)', () => {
  it('in breach one step in 160 (54 of 8,640): SLI 99.375%, 62.5% of the budget spent', () => {
    const b = computeBudget(
      {
        start: START,
        stepMs: STEP,
        bad: Array.from({ length: N }, (_, i) => (i % 160 === 0 ? 1 : 0)),
        total: new Array<number>(N).fill(1),
      },
      0.99,
      WINDOW,
      AT,
      'time',
    );
    close(b.sli, 0.99375);
    close(b.budget.spent, 0.625);
    expect(b.basis).toBe('time');
  });
});

describe('the burn-down line', () => {
  /** The burn-down as lists of [time, remaining] pairs, worked out step by step from the series. */
  function pairs(series: BudgetSeries, objective: number, windowMs: number, at: number): Array<[number, number]> {
    const { start, stepMs } = series;
    const n = series.total.length;
    const last = Math.min(n - 1, Math.floor((at - start) / stepMs));
    // Steps of the window before the series' start count as no data, as in a series padded with NaN.
    const first = last + 1 - Math.round(windowMs / stepMs);
    const has = (i: number) => i >= 0 && !Number.isNaN(series.total[i]!);
    let total = 0;
    for (let i = first; i <= last; i++) if (has(i)) total += series.total[i]!;
    const allowance = (1 - objective) * total;
    const every = Math.max(1, Math.ceil((last + 1 - first) / BURN_DOWN_POINTS));
    const out: Array<[number, number]> = [];
    let bad = 0;
    // A block ends after a step whose next starts at a multiple of `every` steps (START is a multiple of STEP).
    const blockEnd = (i: number) => ((start + (i + 1) * stepMs) / stepMs) % every === 0;
    for (let i = first; i <= last; i++) {
      if (has(i) && !Number.isNaN(series.bad[i]!)) bad += series.bad[i]!;
      if (i === first || blockEnd(i) || i === last)
        out.push([start + i * stepMs, allowance > 0 ? 1 - bad / allowance : NaN]);
    }
    return out;
  }

  it("holds the points of a list of pairs, the window's first step, each block's last and the window's last, in typed arrays", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 1, max: 4000 }),
        fc.integer({ min: -50, max: 3050 }),
        fc.integer({ min: 0, max: 1000 }),
        (n, windowSteps, atStep, seed) => {
          const value = (i: number, salt: number) => ((i * 7919 + seed * 104_729 + salt) % 1000) / 10;
          const series: BudgetSeries = {
            start: START,
            stepMs: STEP,
            bad: Array.from({ length: n }, (_, i) => (value(i, 1) < 5 ? NaN : value(i, 2))),
            total: Array.from({ length: n }, (_, i) => (value(i, 3) < 3 ? NaN : 1000 + value(i, 4))),
          };
          const at = START + atStep * STEP;
          const b = computeBudget(series, 0.99, windowSteps * STEP, at, 'events');
          const expected = pairs(series, 0.99, windowSteps * STEP, at);
          const burnDown = b.burnDown();
          expect(burnDown.times).toBeInstanceOf(Float64Array);
          expect(Array.from(burnDown.times)).toEqual(expected.map(([t]) => t));
          const remaining = Array.from(burnDown.remaining);
          expect(remaining.length).toBe(expected.length);
          remaining.forEach((v, k) => {
            const want = expected[k]![1];
            if (Number.isNaN(want)) expect(v).toBeNaN();
            else expect(Math.abs(v - want)).toBeLessThan(1e-9);
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('draws the chart and the sparkline from the typed arrays as from a list of pairs', () => {
    const b = computeBudget(
      events((i) => (i % 97 === 0 ? 400 : 3)),
      0.99,
      WINDOW,
      AT,
      'events',
    );
    // The charts' points as drawn from a list of pairs (every `keep`-th point and the last, NaN left out).
    const drawn = (list: Array<[number, number]>, width: number, height: number, top: number, keep: number) => {
      const r = (x: number) => Math.round(x * 10) / 10;
      const y = (v: number) => top + (1 - Math.max(-1, Math.min(1, v))) * (height / 2);
      const step = Math.max(1, Math.ceil(list.length / keep));
      return list
        .filter((_, i) => i % step === 0 || i === list.length - 1)
        .filter(([, v]) => Number.isFinite(v))
        .map(([t, v]) => `${r(((t - (b.at - b.windowMs)) / b.windowMs) * width)},${r(y(v))}`)
        .join(' ');
    };
    const { times, remaining } = b.burnDown();
    const list = Array.from(times, (t, k): [number, number] => [t, remaining[k]!]);
    // The first step, the last of each block of 36 of the 8,640 steps, and the last: both charts leave points out.
    expect(list.length).toBe(BURN_DOWN_POINTS + 2);
    expect(sparkline(b)).toContain(`points="${drawn(list, 120, 28, 0, 40)}"`);
    const full = drawn(list, 600, 160, 10, 240)
      .split(' ')
      .map((p) => {
        const [x, y] = p.split(',');
        return `${Math.round((Number(x) + 44) * 10) / 10},${y}`;
      })
      .join(' ');
    expect(burnDownChart(b, 'x')).toContain(`points="${full}"`);
  });
});
