import { describe, expect, it } from 'vitest';
import { type BudgetSeries, budgetHealth, computeBudget } from '../../src/budget/budget.js';

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
    expect(b.burnDown[0]![0]).toBe(START);
    expect(b.burnDown.at(-1)).toEqual([AT, b.budget.remaining]);
    close(b.burnDown[Math.floor(b.burnDown.length / 2)]![1], 0.75);
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
    // 20 bad a step against an allowance of 0.01 × 8,640,000 = 86,400: gone after 4,320 steps.
    expect(b.exhaustedAt).toBe(START + 4319 * STEP);
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
    expect(trimmed).toEqual(padded);
    expect(trimmed.burnDown[0]).toEqual([START, 1]);
    // With no step left at all, the same as a window of no data.
    const none = computeBudget({ start: AT + STEP, stepMs: STEP, bad: [], total: [] }, 0.99, WINDOW, AT, 'events');
    expect(none).toEqual(noData());
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
