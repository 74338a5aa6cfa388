/**
 * Short burn-rate windows for `sloe run` (those up to the fresh span, 6h: the page tiers' windows and the ticket
 * tiers' short ones), part of the fetch stage. They end at the evaluation instant, so a window ending at t is the sum
 * of the base rates at t, t − res, t − 2·res, … (plan.ts). A shard is evaluated as of the moment it was due, a fixed
 * phase of its interval (dueAt), so the instants of an SLO's evaluations fall on as many phases of the base
 * resolution as the interval divides it into (5 for a 1m interval and a 5m resolution): an evaluation shares its
 * base rates with the one a resolution earlier, but for the newest.
 *
 * The newest RECENT_MS of base rates (30 minutes) are read on every evaluation, so samples that arrive late (a
 * remote-write backlog, a slow scrape) count as they would in a full read, and the windows up to that long are read
 * whole. A longer window is those recent points plus its older part, whose sums are kept per SLO and phase; the next
 * evaluation at that phase moves them on by the points that entered the older part and those that left it, one
 * point each per window for a tick a resolution later: about 9 points a part instead of 72 for the workbook's page
 * tiers, in ranges SLOs of a shard share (BatchingPort merges them). Once an hour (each SLO at its own phase of it),
 * and whenever an evaluation has no sums of its phase to move on from (the first, a reload that changed the SLO, a
 * tick off its shard's phase, a gap over MAX_CARRY_MS), the windows are read in full. The sums are those of a full
 * read to the last bits of float addition, and a window whose points all have a bad rate of zero has a bad sum of
 * exactly zero.
 */
import { createHash } from 'node:crypto';
import { fetchRates } from './fetch.js';
import { type Labels, labelsKey } from './labels.js';
import { type RatioPlan, type Span, spanAt } from './plan.js';
import type { PrometheusPort } from './prometheus.js';
import { type InstanceGrid, type InstanceWindows, type RateGrid, type WindowSum, windowsAt } from './windows.js';

/** Base rates this recent are read on every evaluation (rounded up to a multiple of the base resolution). */
const RECENT_MS = 30 * 60_000;
/** How often the short windows of an SLO are read in full again (each SLO at its own phase). */
const FULL_READ_EVERY_MS = 3600_000;
/** The longest gap between an evaluation and the sums of its phase that it moves on from: more is a full read. */
const MAX_CARRY_MS = 30 * 60_000;
/**
 * Phases kept per SLO: an SLO evaluated at more phases of its resolution (a 10s interval: 30 of a 5m resolution)
 * reads its windows in full.
 */
const MAX_PHASES = 10;

/** Where in each period of `periodMs` an SLO reads its windows in full: the same for every replica. */
export function phaseOf(sloId: string, periodMs: number): number {
  return Math.floor((createHash('sha256').update(sloId).digest().readUInt32BE(0) / 2 ** 32) * periodMs);
}

/** A window's sums, and how many of its points had a bad rate other than zero. */
interface Part extends WindowSum {
  nonzeroBad: number;
}

const EMPTY: Part = { bad: 0, total: 0, points: 0, nonzeroBad: 0 };
/** Numbers kept per window: bad, total, points, nonzeroBad. */
const WIDTH = 4;

/** An instance's sums of the older part of each window longer than the recent span, in order. */
interface Sums {
  labels: Labels;
  sums: number[];
}

interface Entry {
  signature: string;
  /** Where the older parts end: the evaluation instant less the recent span. */
  at: number;
  /** Where the older parts ended at the last full read they were moved on from. */
  readAt: number;
  /** By instance (labelsKey): every instance with a point (or a bad rate) in the longest window's older part. */
  sums: Map<string, Sums>;
}

/** A range of base rates read once for several sums: (start, end], the grids by instance. */
interface Read {
  start: number;
  end: number;
  grids: Map<string, InstanceGrid>;
}

export class ShortWindows {
  /** By SLO, then by phase (the evaluation instant modulo the base resolution). */
  private readonly entries = new Map<string, Map<number, Entry>>();
  /** When SLOs not evaluated for MAX_CARRY_MS (removed from the configuration) were last dropped. */
  private sweptAt = Number.NEGATIVE_INFINITY;
  /** Reads of every short window in full. */
  fullReads = 0;
  /** Reads of the recent points and of those that entered and left the older parts since the sums of the phase. */
  carried = 0;

  /** The short windows (`short`, shortest first) of a ratio SLO ending at `at`. */
  async windowsAt(
    port: PrometheusPort,
    sloId: string,
    plan: RatioPlan,
    short: readonly number[],
    signature: string,
    at: number,
  ): Promise<InstanceWindows[]> {
    const res = plan.resMs;
    const recent = Math.ceil(RECENT_MS / res) * res;
    const longest = short[short.length - 1]!;
    if (longest <= recent) return windowsAt(await fetchRates(port, sloId, plan, spanAt(plan, at, longest)), at);
    const older = short.filter((w) => w > recent).map((w) => w - recent);
    const settled = at - recent;
    const phase = ((at % res) + res) % res;
    const offset = phaseOf(sloId, FULL_READ_EVERY_MS);
    const period = (t: number) => Math.floor((t + offset) / FULL_READ_EVERY_MS);
    let byPhase = this.entries.get(sloId);
    const last = byPhase?.get(phase);
    const usable =
      last !== undefined &&
      last.signature === signature &&
      last.at <= settled &&
      settled - last.at <= MAX_CARRY_MS &&
      period(settled) === period(last.readAt);
    // The points of (from, to] of an instance, from whichever read holds them.
    let reads: Read[];
    let sums: Map<string, Sums>;
    let readAt = settled;
    if (usable) {
      this.carried++;
      readAt = last.readAt;
      reads = await readRanges(port, sloId, plan, [
        [last.at, at],
        ...older.map((w): [number, number] => [last.at - w, settled - w]),
      ]);
      const sum = partsIn(reads);
      sums = new Map();
      const keys = new Map<string, Labels>();
      for (const [key, s] of last.sums) keys.set(key, s.labels);
      for (const read of reads) for (const [key, g] of read.grids) if (!keys.has(key)) keys.set(key, g.labels);
      for (const [key, labels] of keys) {
        const before = last.sums.get(key)?.sums;
        const entered = sum(key, last.at, settled);
        const kept = older.flatMap((w, k) => {
          const was = (j: number) => before?.[WIDTH * k + j] ?? 0;
          const s = plus(
            { bad: was(0), total: was(1), points: was(2), nonzeroBad: was(3) },
            entered,
            sum(key, last.at - w, settled - w),
          );
          return [s.bad, s.total, s.points, s.nonzeroBad];
        });
        if (kept[kept.length - 2]! > 0 || kept[kept.length - 1]! > 0) sums.set(key, { labels, sums: kept });
      }
    } else {
      this.fullReads++;
      reads = await readRanges(port, sloId, plan, [[at - longest, at]]);
      const sum = partsIn(reads);
      sums = new Map();
      for (const [key, { labels }] of reads[0]!.grids) {
        const kept = older.flatMap((w) => {
          const s = sum(key, settled - w, settled);
          return [s.bad, s.total, s.points, s.nonzeroBad];
        });
        if (kept[kept.length - 2]! > 0 || kept[kept.length - 1]! > 0) sums.set(key, { labels, sums: kept });
      }
    }
    if (!byPhase) this.entries.set(sloId, (byPhase = new Map()));
    byPhase.delete(phase);
    byPhase.set(phase, { signature, at: settled, readAt, sums });
    // The oldest phases go first (a Map iterates in the order of insertion).
    for (const p of byPhase.keys()) if (byPhase.size > MAX_PHASES) byPhase.delete(p);
    this.sweep(at);
    return this.windows(reads[0]!, sums, short, recent, settled, at);
  }

  /**
   * The windows at `at` of each instance with a point in the longest: those up to the recent span from the recent
   * points alone, the longer ones their older part's sums plus the recent points.
   */
  private windows(
    fresh: Read,
    sums: Map<string, Sums>,
    short: readonly number[],
    recent: number,
    settled: number,
    at: number,
  ): InstanceWindows[] {
    const keys = new Map<string, Labels>();
    for (const [key, s] of sums) keys.set(key, s.labels);
    for (const [key, g] of fresh.grids) if (!keys.has(key)) keys.set(key, g.labels);
    const first = short.findIndex((w) => w > recent);
    const out: InstanceWindows[] = [];
    for (const [key, labels] of keys) {
      const grid = fresh.grids.get(key)?.grid;
      const latest = grid ? partOf(grid, settled, at) : EMPTY;
      const kept = sums.get(key)?.sums;
      const byWindow = short.map((w, k): Part => {
        if (w <= recent) return grid ? partOf(grid, at - w, at) : EMPTY;
        const j = WIDTH * (k - first);
        const older = kept
          ? { bad: kept[j]!, total: kept[j + 1]!, points: kept[j + 2]!, nonzeroBad: kept[j + 3]! }
          : EMPTY;
        return plus(older, latest, EMPTY);
      });
      if (byWindow[byWindow.length - 1]!.points > 0)
        out.push({ labels, windows: (w) => byWindow[short.indexOf(w)] ?? EMPTY });
    }
    return out;
  }

  /** Drops the SLOs not evaluated for MAX_CARRY_MS (removed, or evaluated by another replica), every so often. */
  private sweep(at: number): void {
    if (at - this.sweptAt < MAX_CARRY_MS) return;
    this.sweptAt = at;
    for (const [id, byPhase] of this.entries) {
      for (const [p, e] of byPhase) if (at - e.at > MAX_CARRY_MS + RECENT_MS) byPhase.delete(p);
      if (byPhase.size === 0) this.entries.delete(id);
    }
  }
}

/** The points of (from, to] on a grid that holds them. */
function partOf(grid: RateGrid, from: number, to: number): Part {
  if (to <= from) return EMPTY;
  const i = grid.index(to);
  return { ...grid.window(i, to - from), nonzeroBad: grid.nonzeroBad(i, to - from) };
}

/** The points of (from, to] of an instance, from whichever of the reads holds that range. */
function partsIn(reads: readonly Read[]): (key: string, from: number, to: number) => Part {
  return (key, from, to) => {
    const grid = reads.find((r) => r.start <= from && to <= r.end)!.grids.get(key)?.grid;
    return grid ? partOf(grid, from, to) : EMPTY;
  };
}

/**
 * A window's sums plus the points that entered it, minus those that left. One without points has a total of zero,
 * one whose points all have a bad rate of zero a bad sum of zero: exactly, not the residue of float addition.
 */
function plus(s: Part, entered: Part, left: Part): Part {
  const points = s.points + entered.points - left.points;
  const nonzeroBad = s.nonzeroBad + entered.nonzeroBad - left.nonzeroBad;
  return {
    bad: nonzeroBad === 0 ? 0 : s.bad + entered.bad - left.bad,
    total: points === 0 ? 0 : s.total + entered.total - left.total,
    points,
    nonzeroBad,
  };
}

/** Reads the base rates of ranges (from, to], those that overlap or touch as one range; the first range's read first. */
async function readRanges(
  port: PrometheusPort,
  sloId: string,
  plan: RatioPlan,
  ranges: ReadonlyArray<readonly [number, number]>,
): Promise<Read[]> {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [from, to] of sorted) {
    const prev = merged[merged.length - 1];
    if (prev && from <= prev[1]) prev[1] = Math.max(prev[1], to);
    else merged.push([from, to]);
  }
  const reads = await Promise.all(
    merged.map(async ([from, to]): Promise<Read> => {
      const span: Span = { start: from + plan.resMs, end: to, stepMs: plan.resMs };
      const grids = await fetchRates(port, sloId, plan, span, true);
      return { start: from, end: to, grids: new Map(grids.map((g) => [labelsKey(g.labels), g])) };
    }),
  );
  const [from, to] = ranges[0]!;
  const first = reads.findIndex((r) => r.start <= from && to <= r.end);
  return [reads[first]!, ...reads.filter((_, i) => i !== first)];
}
