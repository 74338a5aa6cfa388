/**
 * Short burn-rate windows for `sloe run` (those up to the fresh span, 6h: the page tiers' windows and the ticket
 * tiers' short ones), part of the fetch stage. They end at the evaluation instant, so a window ending at t is the sum
 * of the base rates at t, t − res, t − 2·res, … (plan.ts). A shard is evaluated as of the moment it was due, a fixed
 * phase of its interval, so the instants of an SLO's evaluations fall on as many phases of the base resolution as
 * the interval divides it into (5 for a 1m interval and a 5m resolution): an evaluation shares all its base rates
 * but the newest with the one a resolution earlier.
 *
 * Per SLO and phase, the sums of each short window are kept ending at the last settled point (SETTLE_MS old at the
 * evaluation: the samples it is made of have arrived). The next evaluation at that phase reads only the points since
 * those sums (the settled ones that entered, and the newest ones) and those that left each window: a few points per
 * part instead of 72, in as many ranges as windows, which SLOs evaluated together share (BatchingPort merges them).
 * Once an hour, at each SLO's own phase, and whenever an evaluation has no sums of its phase to carry on from (the
 * first, a reload that changed the SLO, an instant off its shard's phase), the windows are read in full. The sums are
 * those of a full read, to the last bits of float addition.
 */
import { createHash } from 'node:crypto';
import { fetchRates } from './fetch.js';
import { type Labels, labelsKey } from './labels.js';
import { type RatioPlan, type Span, spanAt } from './plan.js';
import type { PrometheusPort } from './prometheus.js';
import type { InstanceGrid, InstanceWindows, WindowSum } from './windows.js';

/** How often the short windows of an SLO are read in full again (each SLO at its own phase). */
const FULL_READ_EVERY_MS = 3600_000;
/** The longest gap between an evaluation and the sums of its phase that it carries on from: more is a full read. */
const MAX_CARRY_MS = 30 * 60_000;

/** Where in each period of `periodMs` an SLO reads its windows in full: the same for every replica. */
export function phaseOf(sloId: string, periodMs: number): number {
  return Math.floor((createHash('sha256').update(sloId).digest().readUInt32BE(0) / 2 ** 32) * periodMs);
}

/**
 * An instance's sums of the short windows in the order of `short`: bad, total, points and points with bad events of
 * each.
 */
interface Sums {
  labels: Labels;
  sums: number[];
}

interface Entry {
  signature: string;
  /** The grid point (of this phase) the sums end at: the newest settled one at the evaluation. */
  at: number;
  /** The settled end of the last full read the sums were carried on from. */
  readAt: number;
  /** By instance (labelsKey): every instance with a point in the longest short window. */
  sums: Map<string, Sums>;
}

/** A window's sums, and how many of its points had bad events. */
interface Part extends WindowSum {
  badPoints: number;
}

const EMPTY: Part = { bad: 0, total: 0, points: 0, badPoints: 0 };
const WIDTH = 4;

/** A range of base rates read once for several sums: the grids by instance. */
interface Read {
  start: number;
  end: number;
  grids: Map<string, InstanceGrid>;
}

export class ShortWindows {
  /** By SLO, then by phase (the evaluation instant modulo the base resolution). */
  private readonly entries = new Map<string, Map<number, Entry>>();
  /** Reads of every short window in full. */
  fullReads = 0;
  /** Reads of only the points that entered and left the windows since the sums of the same phase. */
  carried = 0;

  constructor(private readonly settleMs: number) {}

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
    const settled = at - Math.ceil(this.settleMs / res) * res;
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
    const { entry, windows } = usable
      ? await this.carryOn(port, sloId, plan, short, last, settled, at)
      : await this.readFull(port, sloId, plan, short, signature, settled, at);
    if (usable) this.carried++;
    else this.fullReads++;
    if (!byPhase) this.entries.set(sloId, (byPhase = new Map()));
    byPhase.set(phase, entry);
    // Sums of other phases too old to carry on from are dropped (a shard's phase changes with its interval).
    for (const [p, e] of byPhase) if (settled - e.at > MAX_CARRY_MS) byPhase.delete(p);
    return windows;
  }

  /**
   * Every short window read in full: one range over the longest ending at `at`, from the first point of the longest
   * ending at `settled` (a resolution or two more), so that the sums kept for the next evaluation come from it too.
   */
  private async readFull(
    port: PrometheusPort,
    sloId: string,
    plan: RatioPlan,
    short: readonly number[],
    signature: string,
    settled: number,
    at: number,
  ): Promise<{ entry: Entry; windows: InstanceWindows[] }> {
    const longest = short[short.length - 1]!;
    const grids = await fetchRates(port, sloId, plan, spanAt(plan, at, longest + at - settled));
    const sums = new Map<string, Sums>();
    const windows: InstanceWindows[] = [];
    for (const { labels, grid } of grids) {
      const [i, s] = [grid.index(at), grid.index(settled)];
      if (grid.points(i, longest) > 0) windows.push({ labels, windows: grid.windowsAt(i) });
      const kept = short.flatMap((w) => {
        const x = grid.window(s, w);
        return [x.bad, x.total, x.points, grid.badPoints(s, w)];
      });
      if (kept[kept.length - WIDTH + 2]! > 0) sums.set(labelsKey(labels), { labels, sums: kept });
    }
    return { entry: { signature, at: settled, readAt: settled, sums }, windows };
  }

  /**
   * The sums at `settled` from those at `last.at`: plus the points of (last.at, settled], minus those of
   * (last.at − w, settled − w] for each window w; and the windows at `at` from them: plus the points of
   * (settled, at], minus those of (settled − w, at − w]. Reads (last.at − w, at − w] for each window and
   * (last.at, at], ranges that touch read as one.
   */
  private async carryOn(
    port: PrometheusPort,
    sloId: string,
    plan: RatioPlan,
    short: readonly number[],
    last: Entry,
    settled: number,
    at: number,
  ): Promise<{ entry: Entry; windows: InstanceWindows[] }> {
    const reads = await readRanges(
      port,
      sloId,
      plan,
      [0, ...short].map((back) => [last.at - back, at - back]),
    );
    /** The sums of the base rates of (from, to] of an instance. */
    const sum = (key: string, from: number, to: number): Part => {
      if (to <= from) return EMPTY;
      const read = reads.find((r) => r.start <= from && to <= r.end)!;
      const g = read.grids.get(key)?.grid;
      if (!g) return EMPTY;
      const i = g.index(to);
      return { ...g.window(i, to - from), badPoints: g.badPoints(i, to - from) };
    };
    const keys = new Map<string, Labels>();
    for (const [key, s] of last.sums) keys.set(key, s.labels);
    for (const read of reads) for (const [key, g] of read.grids) if (!keys.has(key)) keys.set(key, g.labels);
    const sums = new Map<string, Sums>();
    const windows: InstanceWindows[] = [];
    for (const [key, labels] of keys) {
      const before = last.sums.get(key)?.sums;
      const kept: number[] = [];
      const now: Part[] = [];
      const entered = sum(key, last.at, settled);
      const newest = sum(key, settled, at);
      short.forEach((w, k) => {
        const was = (j: number) => before?.[WIDTH * k + j] ?? 0;
        const s = moved(
          { bad: was(0), total: was(1), points: was(2), badPoints: was(3) },
          entered,
          sum(key, last.at - w, settled - w),
        );
        kept.push(s.bad, s.total, s.points, s.badPoints);
        now.push(moved(s, newest, sum(key, settled - w, at - w)));
      });
      if (kept[kept.length - WIDTH + 2]! > 0) sums.set(key, { labels, sums: kept });
      if (now[now.length - 1]!.points > 0) windows.push({ labels, windows: (w) => now[short.indexOf(w)] ?? EMPTY });
    }
    return { entry: { signature: last.signature, at: settled, readAt: last.readAt, sums }, windows };
  }
}

/**
 * A window's sums moved on: plus the points that entered it, minus those that left. A window without points has
 * none, one without bad events no bad sum (not the residue float addition leaves), and no sum is below zero.
 */
function moved(s: Part, entered: Part, left: Part): Part {
  const points = s.points + entered.points - left.points;
  if (points <= 0) return EMPTY;
  const badPoints = s.badPoints + entered.badPoints - left.badPoints;
  return {
    bad: badPoints <= 0 ? 0 : Math.max(0, s.bad + entered.bad - left.bad),
    total: Math.max(0, s.total + entered.total - left.total),
    points,
    badPoints,
  };
}

/** Reads the base rates of ranges (from, to], those that overlap or touch as one range. */
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
  return Promise.all(
    merged.map(async ([from, to]) => {
      const span: Span = { start: from + plan.resMs, end: to, stepMs: plan.resMs };
      const grids = await fetchRates(port, sloId, plan, span);
      return { start: from, end: to, grids: new Map(grids.map((g) => [labelsKey(g.labels), g])) };
    }),
  );
}
