/**
 * Keeps the error budgets of every SLO for the status page and /metrics: computed against Prometheus at most once
 * per refresh period, on demand (a page load, a scrape), never twice at once. An SLO whose queries fail keeps the
 * error, shown where its budget would be: never a silent "healthy".
 */
import type { PrometheusPort } from '../evaluator/prometheus.js';
import type { Slo } from '../rules/model.js';
import { mapLimit, withTimeout } from '../util/async.js';
import { describeError } from '../util/errors.js';
import type { Budget } from './budget.js';
import { sloBudget } from './load.js';

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
}

export class BudgetKeeper {
  private snapshot: BudgetSnapshot = { at: 0, bySlo: new Map() };
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
    const entries = await mapLimit(slos, 4, async (slo): Promise<[string, BudgetEntry]> => {
      try {
        return [slo.id, { budget: await sloBudget(this.options.prometheus, slo, at) }];
      } catch (e) {
        return [slo.id, { error: describeError(e) }];
      }
    });
    const failed = entries.filter(([, e]) => e.error !== undefined);
    if (failed.length) {
      this.options.log?.warn(
        { event: 'budget-failed', slos: failed.length, error: failed[0]![1].error },
        `error budgets of ${failed.length} SLO(s) could not be computed: ${failed[0]![1].error}`,
      );
    }
    this.snapshot = { at, bySlo: new Map(entries) };
    return this.snapshot;
  }
}
