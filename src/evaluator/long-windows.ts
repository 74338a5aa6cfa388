/**
 * Long burn-rate windows for `sloe run`, part of the fetch stage: a WindowReader. A window longer than 6 hours
 * moves little from one tick to the next, so the engine reads windows up to 6h fresh on every evaluation and
 * refreshes the longer ones (the workbook's 3d ticket tier) only every long/288 (15 minutes for 3d: under 0.4% of
 * the window), from one range query. Between refreshes an evaluation reads about 6h of base rates instead of 3 days.
 * `eval` and `backtest` read everything.
 */
import type { Slo } from '../rules/model.js';
import { evaluateAt } from './evaluate.js';
import { type WindowReader, fetchRates } from './fetch.js';
import type { Detail, SloFrame } from './frame.js';
import { labelsKey } from './labels.js';
import { type RatioPlan, spanAt } from './plan.js';
import type { PrometheusPort } from './prometheus.js';
import { type InstanceWindows, type WindowSum, windowsAt } from './windows.js';

/** Windows up to this long are read on every evaluation. */
export const FRESH_SPAN_MS = 6 * 3600_000;

interface Entry {
  /** What the entry was computed for: the SLO's queries and windows (a reload may change them). */
  signature: string;
  at: number;
  sums: Map<string, Map<number, WindowSum>>;
}

const EMPTY: WindowSum = { bad: 0, total: 0, points: 0 };

export class LongWindowCache implements WindowReader {
  private readonly entries = new Map<string, Entry>();
  /** Range queries that read the long windows (the evaluations in between read the short ones only). */
  refreshes = 0;

  constructor(private readonly freshSpanMs = FRESH_SPAN_MS) {}

  /** Evaluates an SLO at `at`, reading a ratio SLO's long windows from the cache. */
  evaluate(port: PrometheusPort, slo: Slo, at: number, detail: Detail): Promise<SloFrame> {
    return evaluateAt(port, slo, at, detail, this);
  }

  /** The windows of a ratio SLO ending at `at`: the short ones read now, the long ones from the last refresh. */
  async windowsAt(port: PrometheusPort, sloId: string, plan: RatioPlan, at: number): Promise<InstanceWindows[]> {
    const long = plan.windows.filter((w) => w > this.freshSpanMs);
    const short = plan.windows.filter((w) => w <= this.freshSpanMs);
    const signature = JSON.stringify(plan);
    const entry = this.entries.get(sloId);
    const refreshMs = Math.max(plan.resMs, Math.min(...long) / 288);
    const due = !entry || entry.signature !== signature || at - entry.at >= refreshMs || at < entry.at;
    if (long.length === 0 || short.length === 0 || due) {
      // Read everything, judge exactly, and keep the long windows.
      const grids = await fetchRates(port, sloId, plan, spanAt(plan, at));
      if (long.length > 0 && short.length > 0) {
        this.refreshes++;
        const sums = new Map<string, Map<number, WindowSum>>();
        for (const { labels, grid } of grids) {
          const i = grid.index(at);
          sums.set(labelsKey(labels), new Map(long.map((w) => [w, grid.window(i, w)])));
        }
        this.entries.set(sloId, { signature, at, sums });
      }
      return windowsAt(grids, at);
    }
    const span = short[short.length - 1]!;
    const grids = await fetchRates(port, sloId, plan, spanAt(plan, at, span));
    if (grids.some(({ labels }) => !entry!.sums.has(labelsKey(labels)))) {
      // A new instance: read its long windows now.
      this.entries.delete(sloId);
      return this.windowsAt(port, sloId, plan, at);
    }
    return windowsAt(grids, at).map(({ labels, windows }) => {
      const cached = entry!.sums.get(labelsKey(labels))!;
      return { labels, windows: (w: number) => (w <= span ? windows(w) : (cached.get(w) ?? EMPTY)) };
    });
  }
}
