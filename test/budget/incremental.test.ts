/**
 * The budget keeper reads each SLO's window once, then only the grid points since the last refresh (and the newest
 * ones that may still change): its budgets must stay those of a full read of the window at the same moment, and an
 * SLO whose queries changed must be read anew.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BURN_DOWN_POINTS, BURN_WINDOWS, type Budget } from '../../src/budget/budget.js';
import { type BudgetSnapshot, BudgetKeeper, SETTLE_MS } from '../../src/budget/keeper.js';
import { budgetGrid, budgetWindow, sloBudget } from '../../src/budget/load.js';
import { PrometheusClient, type PrometheusPort, prometheusConfigFromEnv } from '../../src/evaluator/prometheus.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { type Slo, loadRules } from '../../src/rules/index.js';
import { AT, DAY, HOUR, MIN, shopHistory } from '../report/history.js';

const ROOT = join(import.meta.dirname, '..', '..');
let prom: LocalPrometheus;
let slos: readonly Slo[];

beforeAll(async () => {
  const loaded = await loadRules([join(ROOT, 'test/fixtures/slos/budget')]);
  expect(loaded.problems).toEqual([]);
  slos = loaded.config.slos;
  prom = await startPrometheus({ history: shopHistory() });
}, 120_000);

afterAll(async () => {
  await prom?.stop();
});

const client = () => new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });

/** A port that passes every query to `target()` and notes the ranges asked for. */
function recording(target: () => PrometheusPort) {
  const ranges: Array<{ start: number; end: number; stepMs: number }> = [];
  const port: PrometheusPort = {
    instant: (query, at) => target().instant(query, at),
    range: (query, start, end, stepMs) => {
      ranges.push({ start, end, stepMs });
      return target().range(query, start, end, stepMs);
    },
  };
  return { port, ranges };
}

/** Equal up to the Float32 the keeper keeps its weights in. */
function near(actual: number | null, expected: number | null, what: string) {
  if (expected === null || Number.isNaN(expected)) {
    expect(actual, what).toEqual(expected);
    return;
  }
  expect(actual, what).not.toBeNull();
  expect(Math.abs(actual! - expected), what).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(expected)));
}

function expectSameBudget(actual: Budget | undefined, expected: Budget, what: string) {
  expect(actual, what).toBeDefined();
  const a = actual!;
  expect({ at: a.at, windowMs: a.windowMs, objective: a.objective, basis: a.basis }).toEqual({
    at: expected.at,
    windowMs: expected.windowMs,
    objective: expected.objective,
    basis: expected.basis,
  });
  near(a.sli, expected.sli, `${what} sli`);
  near(a.budget.spent, expected.budget.spent, `${what} spent`);
  near(a.budget.remaining, expected.budget.remaining, `${what} remaining`);
  for (const w of ['1h', '6h', '3d'] as const) near(a.burnRates[w], expected.burnRates[w], `${what} burn ${w}`);
  near(a.timeLeftMs, expected.timeLeftMs, `${what} time left`);
  near(a.exhaustedAt, expected.exhaustedAt, `${what} exhausted at`);
  const [drawn, wanted] = [a.burnDown(), expected.burnDown()];
  expect([...drawn.times], `${what} burn-down times`).toEqual([...wanted.times]);
  drawn.remaining.forEach((v, i) => near(v, wanted.remaining[i]!, `${what} burn-down ${i}`));
}

/** Every SLO's budget in the snapshot equals the one a full read of its window gives at the same moment. */
async function expectFullRead(snapshot: BudgetSnapshot, current: readonly Slo[], at: number) {
  const full = client();
  for (const slo of current) {
    const entry = snapshot.bySlo.get(slo.id);
    expect(entry?.error, slo.id).toBeUndefined();
    expectSameBudget(entry?.budget, await sloBudget(full, slo, at), `${slo.id} at ${new Date(at).toISOString()}`);
  }
}

describe('incremental budgets', () => {
  it('after the first refresh, read only the new grid points and stay equal to a full read', async () => {
    // The shop has 7d ratio SLOs (2m grid) and a threshold SLO with a 30d window (5m grid, 10 days of data).
    expect(new Set(slos.map((s) => budgetGrid(budgetWindow(s), AT).stepMs))).toEqual(new Set([2 * MIN, 5 * MIN]));
    let now = AT - DAY + 17_000;
    const { port, ranges } = recording(client);
    const keeper = new BudgetKeeper({ prometheus: port, slos: () => slos, now: () => now });
    let snapshot = await keeper.refresh();
    await expectFullRead(snapshot, slos, now);
    // The first refresh reads every window in full.
    const windowPoints = Math.min(...ranges.map((r) => (r.end - r.start) / r.stepMs + 1));
    expect(windowPoints).toBeGreaterThanOrEqual((7 * DAY) / (2 * MIN));

    // Refreshes a minute apart, then after longer gaps (the 6h one moves the threshold SLO's data start no more).
    for (const advance of [MIN, MIN, 3 * MIN + 5_000, 7 * MIN, 90_000, HOUR, 6 * HOUR]) {
      const previous = now;
      now += advance;
      ranges.length = 0;
      snapshot = await keeper.refresh();
      await expectFullRead(snapshot, slos, now);
      // Only the points since the last refresh, and those that were less than SETTLE_MS old when last read.
      // The first point read again is the first that was less than SETTLE_MS old at the previous refresh.
      // Besides, once a window (the SLO's, or the 3d burn window) starts in a block kept only as a sum (a burn-down
      // point apart: 21 steps of a 7d window's 5,040), that block's steps are read once (the 30d SLO has no data as
      // far back as its window: nothing to read there).
      const edges = new Set(
        slos.flatMap((s) => {
          const { stepMs, end } = budgetGrid(budgetWindow(s), now);
          const blockMs = Math.ceil(budgetWindow(s) / stepMs / BURN_DOWN_POINTS) * stepMs;
          return [budgetWindow(s), BURN_WINDOWS['3d']].map((windowMs) => {
            const start = Math.floor((end + stepMs - windowMs) / blockMs) * blockMs;
            return `${start}-${start + blockMs - stepMs}`;
          });
        }),
      );
      const blockReads = ranges.filter((r) => edges.has(`${r.start}-${r.end}`));
      const steps = ranges.filter((r) => !edges.has(`${r.start}-${r.end}`));
      // The first advance past a block bound (after the 6h one, and the hour one) reads the window's new first block.
      if (advance >= HOUR) expect(blockReads.length, `block reads at ${now}`).toBeGreaterThan(0);
      for (const r of steps) {
        expect(r.start, `range at ${now}`).toBe(Math.floor((previous - SETTLE_MS) / r.stepMs) * r.stepMs + r.stepMs);
        expect(r.end).toBe(Math.floor(now / r.stepMs) * r.stepMs);
      }
      expect(steps.length).toBeGreaterThan(0);
      const points = steps.reduce((sum, r) => sum + (r.end - r.start) / r.stepMs + 1, 0);
      // Two queries a ratio SLO, one for the threshold SLO (whatever BatchingPort merged), each of a few points.
      expect(points).toBeLessThanOrEqual(3 * (Math.ceil((advance + SETTLE_MS) / (2 * MIN)) + 1));
    }
  }, 120_000);

  it('a refresh with nothing new to read (within the same settled step) asks Prometheus nothing', async () => {
    // Only the 30d threshold SLO: a 5m grid. Read 2 minutes after it, the newest point is settled (SETTLE_MS), and
    // the next one is not due for another 3 minutes.
    const threshold = slos.filter((s) => s.kind === 'threshold');
    expect(AT % (5 * MIN)).toBe(0);
    expect(SETTLE_MS).toBeLessThanOrEqual(2 * MIN);
    let now = AT - 2 * DAY + 2 * MIN + 3_000;
    const { port, ranges } = recording(client);
    const keeper = new BudgetKeeper({ prometheus: port, slos: () => threshold, now: () => now });
    await keeper.refresh();
    const before = keeper.current();
    now += 60_000;
    ranges.length = 0;
    const snapshot = await keeper.refresh();
    expect(ranges).toEqual([]);
    await expectFullRead(snapshot, threshold, now);
    // Nothing changed but the time: the figures are those computed before (the same objects), at the new time.
    for (const slo of threshold) {
      const [was, is] = [before.bySlo.get(slo.id)?.budget, snapshot.bySlo.get(slo.id)?.budget];
      expect(is?.at).toBe(now);
      expect(is?.burnRates).toBe(was?.burnRates);
    }
  }, 120_000);

  it('an SLO whose query changed is read in full, not served from what was kept for the old query', async () => {
    let now = AT - DAY;
    let current = slos;
    const { port, ranges } = recording(client);
    const keeper = new BudgetKeeper({ prometheus: port, slos: () => current, now: () => now });
    await keeper.refresh();
    // availability (0.5% errors all along) now reads the checkout app's errors (10% over the last 6 hours before AT).
    const availability = slos.find((s) => s.name === 'availability' && s.kind === 'ratio')!;
    if (availability.kind !== 'ratio') throw new Error('availability is a ratio SLO');
    const changed: Slo = {
      ...availability,
      ratio: {
        bad: 'sum(rate(shop_requests_total{app="checkout", status="error"}[$window]))',
        total: 'sum(rate(shop_requests_total{app="checkout"}[$window]))',
      },
    };
    current = slos.map((s) => (s.id === availability.id ? changed : s));
    now = AT - MIN;
    ranges.length = 0;
    const snapshot = await keeper.refresh();
    await expectFullRead(snapshot, current, now);
    const before = await sloBudget(client(), availability, now);
    expect(
      Math.abs(snapshot.bySlo.get(availability.id)!.budget!.burnRates['1h'] - before.burnRates['1h']),
    ).toBeGreaterThan(1);
    // Its window was read whole; the others' only since the last refresh.
    expect(ranges.some((r) => (r.end - r.start) / r.stepMs + 1 >= (7 * DAY) / (2 * MIN))).toBe(true);

    // An objective changed reuses the weights (they do not depend on it) and gives the full read's budget.
    current = current.map((s) => (s.id === availability.id ? { ...changed, objective: 0.95 } : s));
    now += MIN;
    ranges.length = 0;
    await expectFullRead(await keeper.refresh(), current, now);
    expect(ranges.every((r) => (r.end - r.start) / r.stepMs + 1 <= 3)).toBe(true);

    // Another objective within the same step (the weights are the same object): the budget is computed anew.
    current = current.map((s) => (s.id === availability.id ? { ...changed, objective: 0.9 } : s));
    now += 10_000;
    const again = await keeper.refresh();
    await expectFullRead(again, current, now);
    expect(again.bySlo.get(availability.id)?.budget?.objective).toBe(0.9);
  }, 120_000);

  it('a failed incremental read is an error for every SLO, and the next refresh reads what was missed', async () => {
    let now = AT - DAY;
    let down = false;
    const unreachable = new PrometheusClient({
      ...prometheusConfigFromEnv({}),
      url: 'http://127.0.0.1:9',
      attempts: 1,
    });
    const live = client();
    const { port } = recording(() => (down ? unreachable : live));
    const keeper = new BudgetKeeper({ prometheus: port, slos: () => slos, now: () => now });
    await keeper.refresh();
    down = true;
    now += 5 * MIN;
    const failed = await keeper.refresh();
    expect([...failed.bySlo.values()].every((e) => e.budget === undefined && /unreachable/.test(e.error ?? ''))).toBe(
      true,
    );
    down = false;
    now += 5 * MIN;
    await expectFullRead(await keeper.refresh(), slos, now);
  }, 120_000);

  it('waits for a pause in evaluation before it reads, and not for longer than two seconds a chunk', async () => {
    const now = AT - DAY;
    const { port, ranges } = recording(client);
    let evaluating = true;
    const keeper = new BudgetKeeper({ prometheus: port, slos: () => slos, now: () => now, busy: () => evaluating });
    const refresh = keeper.refresh();
    await new Promise((r) => setTimeout(r, 600));
    expect(ranges).toEqual([]);
    evaluating = false;
    await expectFullRead(await refresh, slos, now);
    expect(ranges.length).toBeGreaterThan(0);

    // Evaluation that never pauses delays budgets, and does not stop them.
    const always = new BudgetKeeper({ prometheus: client(), slos: () => slos, now: () => now, busy: () => true });
    const started = Date.now();
    await expectFullRead(await always.refresh(), slos, now);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
  }, 120_000);
});
