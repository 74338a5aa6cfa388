/**
 * Keeps the error budgets of every SLO for the status page and /metrics: computed against Prometheus at most once
 * per refresh period, on demand (a page load, a scrape), never twice at once. An SLO whose queries fail keeps the
 * error, shown where its budget would be: never a silent "healthy".
 *
 * A refresh reads only what it has not read yet: each SLO's weights on its budget grid (budgetGrid: points at
 * multiples of the step) are kept between refreshes, compacted (weights.ts), and a refresh asks Prometheus for the
 * points since the newest one kept, plus the newest kept points that may still change (SETTLE_MS), plus the points
 * of the block the window (or the 3d burn window) starts in once it moved into one kept only as a sum, and those of
 * the block the budget ran out in when that was within the last 3 days; points older than the windows are dropped.
 * The first refresh, and the first after an SLO's queries, step or window changed, read the whole window.
 */
import { BatchingPort } from '../evaluator/batching.js';
import type { Span } from '../evaluator/plan.js';
import type { PrometheusPort } from '../evaluator/prometheus.js';
import type { Slo } from '../rules/model.js';
import { mapLimit, sleep, withTimeout } from '../util/async.js';
import { describeError } from '../util/errors.js';
import { type Budget, lastStep, weightsShape } from './budget.js';
import { budgetGrid, budgetOf, budgetWindow, fetchBudgetSeries, ranOutBlockOf } from './load.js';
import {
  type BudgetWeights,
  compacted,
  stepIndex,
  stepsEnd,
  stepWeights,
  weightBytes,
  withEdge,
  withFresh,
  withRanOut,
} from './weights.js';

/** The last budget of one SLO, or why there is none. */
export type BudgetEntry = { budget: Budget; error?: undefined } | { budget?: undefined; error: string };

export interface BudgetSnapshot {
  /** When it was computed; 0 before the first refresh finished. */
  at: number;
  bySlo: ReadonlyMap<string, BudgetEntry>;
}

export interface BudgetKeeperOptions {
  prometheus: PrometheusPort;
  slos: () => readonly Slo[];
  now: () => number;
  /** Budgets older than this are computed again when asked for (default 60 s). */
  refreshMs?: number;
  log?: { warn(fields: object, message: string): void };
  /**
   * Whether evaluation is under way on this process. Evaluation comes first: while it is, a refresh waits before
   * reading its next chunk, up to YIELD_MS a chunk, so that budgets still come under constant load.
   */
  busy?: () => boolean;
}

/** SLOs whose budgets are computed together: their two queries each fill one merged request. */
const BUDGET_CHUNK = 20;
/** Longest a chunk waits for evaluation to pause (`busy`), and how often it looks. */
const YIELD_MS = 2_000;
const YIELD_POLL_MS = 25;

/**
 * How long after its time a grid point may still change: a range's newest points can gain samples that arrive late
 * (a scrape's samples are stored when the scrape ends, up to its timeout later; a recording rule's at the end of its
 * evaluation; remote writes later still). Points newer than this before the last read are read again by the next
 * refresh: with a 1m refresh, one or two points of a 1m grid, the newest one of a 5m grid until it is 2 minutes old.
 */
export const SETTLE_MS = 120_000;

/**
 * An SLO's weights kept between refreshes, compacted (weights.ts: per step the newest 6 hours and the first blocks of
 * the window and of the 3d burn window, block sums between), read for `key`; points after `readAt − SETTLE_MS` are
 * read again. Float32 halves the memory of the per-step values; the sums are made in Float64.
 */
interface Kept {
  key: string;
  readAt: number;
  weights: BudgetWeights;
}

/** What an SLO's weights depend on: its queries (and for a threshold SLO, what counts as a breach) and its grid. */
function seriesKey(slo: Slo, grid: Span, windowMs: number): string {
  const source =
    slo.kind === 'ratio'
      ? { ratio: slo.ratio }
      : { query: slo.query, baseline: slo.baseline, objective: slo.objective, when: slo.when };
  return JSON.stringify({ kind: slo.kind, ...source, stepMs: grid.stepMs, windowMs });
}

export class BudgetKeeper {
  private snapshot: BudgetSnapshot = { at: 0, bySlo: new Map() };
  private kept = new Map<string, Kept>();
  private running: Promise<BudgetSnapshot> | undefined;
  private readonly refreshMs: number;
  private gaveUpWaiting = false;

  constructor(private readonly options: BudgetKeeperOptions) {
    this.refreshMs = options.refreshMs ?? 60_000;
  }

  /** The last budgets, starting a refresh in the background when they are stale. */
  current(): BudgetSnapshot {
    if (this.options.now() - this.snapshot.at >= this.refreshMs) void this.refresh().catch(() => undefined);
    return this.snapshot;
  }

  /**
   * The budgets, refreshing stale ones in the background. Only the very first budgets are waited for, up to
   * `waitMs`, and only until one wait has timed out: a slow Prometheus must not hold every page load.
   */
  async fresh(waitMs: number): Promise<BudgetSnapshot> {
    const snapshot = this.current();
    if (snapshot.at !== 0 || this.gaveUpWaiting) return snapshot;
    return withTimeout(waitMs, () => this.refresh()).catch(() => {
      this.gaveUpWaiting = true;
      return this.snapshot;
    });
  }

  /** Computes every SLO's budget now (joining a refresh already under way). */
  refresh(): Promise<BudgetSnapshot> {
    this.running ??= this.compute().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async compute(): Promise<BudgetSnapshot> {
    const at = this.options.now();
    const slos = this.options.slos();
    // SLOs with the same window ask for the same range: a chunk's queries go to Prometheus merged (BatchingPort,
    // 40 to a request), instead of two requests per SLO on every refresh. Later refreshes read a few points an SLO,
    // two chunks at a time; the first reads every window in full, one chunk at a time, so that at start-up, when
    // every shard reads its long windows too, Prometheus is not taken up by budgets.
    const port = new BatchingPort(this.options.prometheus);
    const chunks = Array.from({ length: Math.ceil(slos.length / BUDGET_CHUNK) }, (_, i) =>
      slos.slice(i * BUDGET_CHUNK, (i + 1) * BUDGET_CHUNK),
    );
    const budgets = await mapLimit(chunks, this.snapshot.at === 0 ? 1 : 2, async (chunk) => {
      await this.evaluationPause();
      return Promise.all(
        chunk.map(async (slo): Promise<[string, BudgetEntry]> => {
          try {
            return [slo.id, { budget: await this.budget(port, slo, at) }];
          } catch (e) {
            return [slo.id, { error: describeError(e) }];
          }
        }),
      );
    });
    const entries = budgets.flat();
    const failed = entries.filter(([, e]) => e.error !== undefined);
    if (failed.length) {
      this.options.log?.warn(
        { event: 'budget-failed', slos: failed.length, error: failed[0]![1].error },
        `error budgets of ${failed.length} SLO(s) could not be computed: ${failed[0]![1].error}`,
      );
    }
    // SLOs a reload removed take their weights with them.
    const ids = new Set(slos.map((s) => s.id));
    for (const id of this.kept.keys()) if (!ids.has(id)) this.kept.delete(id);
    this.snapshot = { at, bySlo: new Map(entries) };
    return this.snapshot;
  }

  /** Waits while evaluation is under way (`busy`), at most YIELD_MS. */
  private async evaluationPause(): Promise<void> {
    const busy = this.options.busy;
    if (!busy) return;
    const until = Date.now() + YIELD_MS;
    while (busy() && Date.now() < until) await sleep(YIELD_POLL_MS);
  }

  /**
   * One SLO's budget at `at`, reading only the points not kept yet (or that may still change), the steps of the
   * window's and the 3d burn window's first block once they start in a block kept only as a sum, and those of the block
   * the budget ran out in (ranOutBlockOf). A failed read keeps what was kept: the next refresh asks again from the same
   * point.
   */
  private async budget(port: PrometheusPort, slo: Slo, at: number): Promise<Budget> {
    const windowMs = budgetWindow(slo);
    const grid = budgetGrid(windowMs, at);
    const key = seriesKey(slo, grid, windowMs);
    const kept = this.kept.get(slo.id);
    const { stepMs } = grid;
    const newest = kept && (stepsEnd(kept.weights) - 1) * stepMs + kept.weights.phase;
    const usable = kept?.key === key && newest! <= grid.end;
    const from = usable ? Math.max(grid.start, firstUnsettled(kept!)) : grid.start;
    let weights: BudgetWeights;
    if (from <= grid.end) {
      const fresh = await fetchBudgetSeries(port, slo, { ...grid, start: from });
      weights = usable
        ? withFresh(kept!.weights, { from: stepIndex(kept!.weights, from), bad: fresh.bad, total: fresh.total })
        : stepWeights(weightsShape(grid.start, stepMs, windowMs), fresh.bad, fresh.total, Float32Array);
    } else weights = kept!.weights;
    const readAt = from <= grid.end ? at : kept!.readAt;
    const { weights: compact, missing } = compacted(weights, windowMs, lastStep(weights, at));
    // Kept before a block is read: a failed read keeps the fresh points, and the next refresh asks for the block.
    this.kept.set(slo.id, { key, readAt, weights: compact });
    const readBlock = (from: number) => {
      const start = compact.phase + from * stepMs;
      return fetchBudgetSeries(port, slo, { start, end: start + (compact.blockSteps - 1) * stepMs, stepMs });
    };
    let complete = compact;
    if (missing.length > 0) {
      // The window or the 3d burn window now starts inside a block kept as a sum: its steps, once (each about one
      // block a burn-down point).
      const edges = await Promise.all(missing.map(readBlock));
      complete = missing.reduce((w, from, j) => withEdge(w, from, edges[j]!.bad, edges[j]!.total), complete);
      this.kept.set(slo.id, { key, readAt, weights: complete });
    }
    // The budget ran out inside a block of the last 3 days kept as a sum: its steps, for when to the step. Read, a
    // block's sum is made again from its steps; when Prometheus's data changed since it was folded (a late
    // correction), the budget may have run out in a later block instead: that one is read next, a few at most.
    for (
      let reads = 0, ranOut = ranOutBlockOf(slo, complete, windowMs, at);
      ranOut !== undefined && reads < 3;
      reads++
    ) {
      const block = await readBlock(ranOut);
      complete = withRanOut(complete, ranOut, block.bad, block.total);
      this.kept.set(slo.id, { key, readAt, weights: complete });
      ranOut = ranOutBlockOf(slo, complete, windowMs, at);
    }
    return budgetOf(slo, complete, windowMs, at);
  }

  /** Bytes of the weights kept for the SLOs (their arrays). */
  keptBytes(): number {
    let bytes = 0;
    for (const { weights } of this.kept.values()) bytes += weightBytes(weights);
    return bytes;
  }
}

/**
 * The first point a refresh reads again: the first after `readAt − SETTLE_MS`, or the one after the newest kept.
 */
function firstUnsettled({ readAt, weights }: Kept): number {
  const { stepMs, phase } = weights;
  const next = phase + stepsEnd(weights) * stepMs;
  return Math.min(next, Math.floor((readAt - SETTLE_MS) / stepMs) * stepMs + stepMs);
}
