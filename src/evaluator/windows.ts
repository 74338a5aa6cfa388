/**
 * Base rates of a ratio SLO on a regular time grid, one grid per instance, with running sums so that any window
 * ending at any grid point costs O(1). What the fetch stage makes of Prometheus' answers and the frame stage reads.
 */
import type { Labels } from './labels.js';

/** Base rates of one instance on a regular time grid (NaN where Prometheus had no point). */
export class RateGrid {
  private readonly badSum: Float64Array;
  private readonly totalSum: Float64Array;
  private readonly totalCount: Float64Array;
  /** How many grid points one base resolution spans. */
  readonly stride: number;

  constructor(
    readonly start: number,
    readonly stepMs: number,
    bad: ArrayLike<number>,
    total: ArrayLike<number>,
    readonly resMs: number,
  ) {
    this.stride = resMs / stepMs;
    const n = total.length;
    this.badSum = new Float64Array(n);
    this.totalSum = new Float64Array(n);
    this.totalCount = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const prev = i - this.stride;
      const t = total[i]!;
      const b = bad[i]!;
      this.badSum[i] = (Number.isNaN(b) ? 0 : b) + (prev >= 0 ? this.badSum[prev]! : 0);
      this.totalSum[i] = (Number.isNaN(t) ? 0 : t) + (prev >= 0 ? this.totalSum[prev]! : 0);
      this.totalCount[i] = (Number.isNaN(t) ? 0 : 1) + (prev >= 0 ? this.totalCount[prev]! : 0);
    }
  }

  get length(): number {
    return this.totalSum.length;
  }

  /** Index of time `t` on the grid. */
  index(t: number): number {
    return Math.round((t - this.start) / this.stepMs);
  }

  /** Sums of bad and total rates over the window of `lengthMs` ending at grid point `i`. */
  window(i: number, lengthMs: number): WindowSum {
    return { bad: this.bad(i, lengthMs), total: this.total(i, lengthMs), points: this.points(i, lengthMs) };
  }

  /** The sum of bad rates over the window of `lengthMs` ending at grid point `i` (what `window` gives as `bad`). */
  bad(i: number, lengthMs: number): number {
    return this.take(this.badSum, i, lengthMs);
  }

  /** The sum of total rates over the window (`window`'s `total`). */
  total(i: number, lengthMs: number): number {
    return this.take(this.totalSum, i, lengthMs);
  }

  /** How many base points of the window had traffic data (`window`'s `points`). */
  points(i: number, lengthMs: number): number {
    return this.take(this.totalCount, i, lengthMs);
  }

  private take(sums: Float64Array, i: number, lengthMs: number): number {
    const back = i - (lengthMs / this.resMs) * this.stride;
    return sums[i]! - (back >= 0 ? sums[back]! : 0);
  }

  /** The windows ending at grid point `i`. */
  windowsAt(i: number): Windows {
    return (lengthMs) => this.window(i, lengthMs);
  }
}

/** Sums of base rates over a window: bad, total, and how many base points had traffic data. */
export interface WindowSum {
  bad: number;
  total: number;
  points: number;
}

/** The windows ending at one moment, by length. */
export type Windows = (lengthMs: number) => WindowSum;

/** The windows of one instance ending at one moment. */
export interface InstanceWindows {
  labels: Labels;
  windows: Windows;
}

/** An instance's base rates. */
export interface InstanceGrid {
  labels: Labels;
  grid: RateGrid;
}

/** The windows ending at `at` of each instance whose grid covers it. */
export function windowsAt(grids: readonly InstanceGrid[], at: number): InstanceWindows[] {
  const out: InstanceWindows[] = [];
  for (const { labels, grid } of grids) {
    const i = grid.index(at);
    if (i >= 0 && i < grid.length) out.push({ labels, windows: grid.windowsAt(i) });
  }
  return out;
}
