/**
 * Long burn-rate windows for `sloe run`. A window longer than 6 hours moves little from one tick to the next, so
 * the engine reads windows up to 6h fresh on every evaluation and refreshes the longer ones (the workbook's 3d
 * ticket tier) only every long/288 (15 minutes for 3d: under 0.4% of the window), from one range query. Between
 * refreshes an evaluation reads about 6h of base rates instead of 3 days. `eval` and `backtest` read everything.
 */
import type { RatioSlo } from '../rules/model.js';
import { ratioGrids } from './evaluate.js';
import { type Detail, type SloFrame, ratioFrame, ratioWindowsFrame } from './frame.js';
import { labelsKey } from './labels.js';
import type { PrometheusPort } from './prometheus.js';
import { type WindowSum, ratioPlan } from './windows.js';

/** Windows up to this long are read on every evaluation. */
export const FRESH_SPAN_MS = 6 * 3600_000;

interface Entry {
  /** What the entry was computed for: the SLO's queries and windows (a reload may change them). */
  signature: string;
  at: number;
  sums: Map<string, Map<number, WindowSum>>;
}

const EMPTY: WindowSum = { bad: 0, total: 0, points: 0 };

export class LongWindowCache {
  private readonly entries = new Map<string, Entry>();
  /** Range queries that read the long windows (the evaluations in between read the short ones only). */
  refreshes = 0;

  constructor(private readonly freshSpanMs = FRESH_SPAN_MS) {}

  /** Evaluates a ratio SLO at `at`. */
  async evaluate(port: PrometheusPort, slo: RatioSlo, at: number, detail: Detail): Promise<SloFrame> {
    const plan = ratioPlan(slo);
    const windows = [...new Set(slo.tiers.flatMap((t) => [t.longMs, t.shortMs]))];
    const long = windows.filter((w) => w > this.freshSpanMs);
    const short = windows.filter((w) => w <= this.freshSpanMs);
    const signature = JSON.stringify([plan, windows]);
    const entry = this.entries.get(slo.id);
    const refreshMs = Math.max(plan.resMs, Math.min(...long) / 288);
    const due = !entry || entry.signature !== signature || at - entry.at >= refreshMs || at < entry.at;
    if (long.length === 0 || short.length === 0 || due) {
      // Read everything, judge exactly, and keep the long windows.
      const grids = await ratioGrids(port, slo, at - plan.longestMs + plan.resMs, at, plan.resMs);
      if (long.length > 0 && short.length > 0) {
        this.refreshes++;
        const sums = new Map<string, Map<number, WindowSum>>();
        for (const { labels, grid } of grids) {
          const i = grid.index(at);
          sums.set(labelsKey(labels), new Map(long.map((w) => [w, grid.window(i, w)])));
        }
        this.entries.set(slo.id, { signature, at, sums });
      }
      return ratioFrame(slo, grids, at, plan.longestMs, detail);
    }
    const span = Math.max(...short);
    const grids = await ratioGrids(port, slo, at - span + plan.resMs, at, plan.resMs);
    if (grids.some(({ labels }) => !entry!.sums.has(labelsKey(labels)))) {
      // A new instance: read its long windows now.
      this.entries.delete(slo.id);
      return this.evaluate(port, slo, at, detail);
    }
    const instances = grids.flatMap(({ labels, grid }) => {
      const i = grid.index(at);
      if (i < 0 || i >= grid.length) return [];
      const cached = entry!.sums.get(labelsKey(labels))!;
      return [{ labels, windows: (w: number) => (w <= span ? grid.window(i, w) : (cached.get(w) ?? EMPTY)) }];
    });
    return ratioWindowsFrame(slo, instances, plan.resMs, plan.longestMs, detail);
  }
}
