/**
 * Long burn-rate windows for `sloe run`, part of the fetch stage: a WindowReader. Windows up to 6h are read fresh on
 * every evaluation; the longer ones (the workbook's 3d ticket tier) are kept as running sums per SLO and instance,
 * ending at a point of the base-resolution grid (multiples of it since the epoch, a few minutes back: `anchorOf`).
 * The first evaluation reads them in full, once; after that, each time the grid moves on, an evaluation reads only
 * the base rates that entered the windows and those that left them (each window's end, `long` earlier), a few points
 * per part instead of 3 days, and adds and subtracts them. The sums are exactly the windows a full read ending at the
 * anchor gives (to the last bits of float addition); the anchor trails the evaluation by at most the settle delay
 * plus one base resolution (7 minutes for 5m: under 0.2% of a 3d window), so that a base rate is read once its
 * samples are in. SLOs evaluated together move on together, so their reads of new points merge into few requests
 * (BatchingPort). Once a day, at each SLO's own phase, the sums are read in full again, so that data Prometheus
 * received late does not stay out of them. `eval` and `backtest` read everything.
 *
 * With a LongWindowStore (Redis in `run`), the sums are kept there too, for as long as catching up from them is
 * cheaper than a full read: a replica that starts, or takes over an SLO another replica evaluated, reads the sums
 * from the store and only the points since. A stored entry names the format and the SLO's plan (queries and
 * windows), so a changed SLO never reuses the sums of its earlier form; a store that fails or is slow is logged and
 * Prometheus read instead.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../incident/ports.js';
import type { Slo } from '../rules/model.js';
import { gcd, withTimeout } from '../util/async.js';
import { evaluateAt } from './evaluate.js';
import { type WindowReader, fetchRange, fetchRates, rateValue } from './fetch.js';
import type { Detail, SloFrame } from './frame.js';
import { labelsKey } from './labels.js';
import { type RatioPlan, type Span, spanAt } from './plan.js';
import type { PrometheusPort, RangeSeries } from './prometheus.js';
import { type InstanceGrid, type InstanceWindows, type WindowSum, windowsAt } from './windows.js';

/** Windows up to this long are read on every evaluation. */
export const FRESH_SPAN_MS = 6 * 3600_000;
/** How long after a grid point its base rate is read: the samples it is made of have arrived by then. */
export const SETTLE_MS = 2 * 60_000;
/** How often the long windows of an SLO are read in full again (each SLO at its own phase). */
const FULL_READ_EVERY_MS = 24 * 3600_000;

interface Entry {
  /** What the entry was computed for: the SLO's queries and windows (a reload may change them). */
  signature: string;
  /** The grid point the sums end at. */
  at: number;
  /** The grid point of the last full read the sums were carried on from. */
  readAt: number;
  /** By instance (labelsKey): every instance with a point in the windows; none means none there. */
  sums: Map<string, LongSums>;
}

/**
 * An instance's sums of the long windows, in the order of the plan's long windows: bad, total and points of the
 * first, then of the second… One array of numbers instead of a map of objects per instance: the cache holds one of
 * these per SLO and instance for as long as the process runs.
 */
type LongSums = number[];

/** A plan's windows split at the fresh span, its signature, and the SLO's phase of the daily full read. */
interface PlanShape {
  long: readonly number[];
  short: readonly number[];
  signature: string;
  phase?: number;
}

const EMPTY: WindowSum = { bad: 0, total: 0, points: 0 };

/** Sums of `long.length` windows, all zero. */
const noSums = (long: readonly number[]): LongSums => new Array<number>(long.length * 3).fill(0);

/** The sums of the `k`th long window. */
function sumOf(sums: LongSums, k: number): WindowSum {
  return { bad: sums[3 * k]!, total: sums[3 * k + 1]!, points: sums[3 * k + 2]! };
}

/** Adds `sign` × a window's sums to those of the `k`th long window. */
function addTo(sums: LongSums, k: number, s: WindowSum, sign: 1 | -1): void {
  sums[3 * k] = sums[3 * k]! + sign * s.bad;
  sums[3 * k + 1] = sums[3 * k + 1]! + sign * s.total;
  sums[3 * k + 2] = sums[3 * k + 2]! + sign * s.points;
}

/** Where long windows outlive a process, shared by replicas: one value per SLO, gone after `ttlMs`. */
export interface LongWindowStore {
  load(sloId: string): Promise<string | undefined>;
  save(sloId: string, value: string, ttlMs: number): Promise<void>;
}

/** The stored format; a stored entry of another format is read as none. 2: running sums ending at a grid point. */
const FORMAT = 2;
/** Entries larger than this (an SLO with very many instances) are not stored: the store stays small. */
const MAX_STORED_BYTES = 256 * 1024;
/** How long a load from the store may take before Prometheus is read instead. */
const STORE_TIMEOUT_MS = 1000;

type StoredEntry = {
  format: number;
  signature: string;
  at: number;
  readAt: number;
  sums: Array<[string, Array<[number, number, number, number]>]>;
};

export interface LongWindowCacheOptions {
  freshSpanMs?: number;
  store?: LongWindowStore;
  log?: Logger;
}

/**
 * The grid point the long windows of an evaluation at `at` end at: the latest multiple of the base resolution at
 * least SETTLE_MS before it.
 */
export function anchorOf(plan: Pick<RatioPlan, 'resMs'>, at: number): number {
  return Math.floor((at - SETTLE_MS) / plan.resMs) * plan.resMs;
}

export class LongWindowCache implements WindowReader {
  private readonly entries = new Map<string, Entry>();
  private readonly shapes = new WeakMap<RatioPlan, PlanShape>();
  private readonly freshSpanMs: number;
  /** Full reads of the long windows (3 days of base rates). */
  refreshes = 0;
  /** Reads of only the base rates that entered and left the long windows since the last sums. */
  increments = 0;
  /** Long windows taken from the store instead of Prometheus. */
  storeHits = 0;

  constructor(private readonly options: LongWindowCacheOptions = {}) {
    this.freshSpanMs = options.freshSpanMs ?? FRESH_SPAN_MS;
  }

  /** Evaluates an SLO at `at`, reading a ratio SLO's long windows from the cache. */
  evaluate(port: PrometheusPort, slo: Slo, at: number, detail: Detail): Promise<SloFrame> {
    return evaluateAt(port, slo, at, detail, this);
  }

  /** The windows of a ratio SLO: the short ones ending at `at`, read now, the long ones ending at `anchorOf(at)`. */
  async windowsAt(port: PrometheusPort, sloId: string, plan: RatioPlan, at: number): Promise<InstanceWindows[]> {
    const { long, short } = this.shapeOf(plan);
    if (long.length === 0 || short.length === 0)
      return windowsAt(await fetchRates(port, sloId, plan, spanAt(plan, at)), at);
    const span = short[short.length - 1]!;
    const [grids, entry] = await Promise.all([
      fetchRates(port, sloId, plan, spanAt(plan, at, span)),
      this.longAt(port, sloId, plan, long, anchorOf(plan, at)),
    ]);
    return windowsAt(grids, at).map(({ labels, windows }) => {
      const cached = entry.sums.get(labelsKey(labels));
      return {
        labels,
        windows: (w: number) => {
          if (w <= span) return windows(w);
          const k = long.indexOf(w);
          return cached && k >= 0 ? sumOf(cached, k) : EMPTY;
        },
      };
    });
  }

  /**
   * A plan's windows split at the fresh span, and its signature: worked out once per plan, which `ratioPlan` keeps
   * per SLO object (a reload makes new ones), instead of on every evaluation. The windows are shortest first.
   */
  private shapeOf(plan: RatioPlan): PlanShape {
    let shape = this.shapes.get(plan);
    if (!shape) {
      const split = plan.windows.findIndex((w) => w > this.freshSpanMs);
      const at = split < 0 ? plan.windows.length : split;
      shape = { long: plan.windows.slice(at), short: plan.windows.slice(0, at), signature: JSON.stringify(plan) };
      this.shapes.set(plan, shape);
    }
    return shape;
  }

  /** The sums of the long windows ending at grid point `anchor`: kept, carried on from the last ones, or read. */
  private async longAt(
    port: PrometheusPort,
    sloId: string,
    plan: RatioPlan,
    long: readonly number[],
    anchor: number,
  ): Promise<Entry> {
    const shape = this.shapeOf(plan);
    const { signature } = shape;
    // A plan is one SLO's (ratioPlan keeps it per SLO object), so its shape holds the SLO's phase.
    const phase = (shape.phase ??= phaseOf(sloId, FULL_READ_EVERY_MS));
    const day = (t: number) => Math.floor((t + phase) / FULL_READ_EVERY_MS);
    // Sums to carry on from: ending at or before the anchor, within a fresh span of it, read in full today.
    const usable = (e: Entry | undefined): e is Entry =>
      e !== undefined &&
      e.signature === signature &&
      e.at <= anchor &&
      anchor - e.at <= this.freshSpanMs &&
      day(anchor) === day(e.readAt);
    let entry = this.entries.get(sloId);
    if (!usable(entry)) entry = undefined;
    if (entry?.at === anchor) return entry;
    if (this.options.store) {
      // Another replica (or this one before a restart) may have carried them on since.
      const stored = await this.load(sloId, signature, long);
      if (usable(stored) && (!entry || stored.at > entry.at)) {
        this.storeHits++;
        entry = stored;
      }
    }
    let next: Entry;
    if (entry?.at === anchor) next = entry;
    else if (entry) {
      this.increments++;
      next = await this.carryOn(port, sloId, plan, long, entry, anchor);
    } else {
      this.refreshes++;
      next = { signature, at: anchor, readAt: anchor, sums: await readLong(port, sloId, plan, long, anchor) };
    }
    this.entries.set(sloId, next);
    // Kept for as long as catching up from them may be chosen over a full read.
    if (next !== entry) this.save(sloId, next, long, this.freshSpanMs + SETTLE_MS + plan.resMs);
    return next;
  }

  /**
   * The sums at `anchor` from those at `entry.at`: plus the base rates of (entry.at, anchor], minus those of
   * (entry.at − w, anchor − w] for each window w. An instance the entry does not name had no point in the windows.
   */
  private async carryOn(
    port: PrometheusPort,
    sloId: string,
    plan: RatioPlan,
    long: readonly number[],
    entry: Entry,
    anchor: number,
  ): Promise<Entry> {
    const span = (back: number): Span => ({
      start: entry.at - back + plan.resMs,
      end: anchor - back,
      stepMs: plan.resMs,
    });
    const [entered, ...left] = await Promise.all([
      fetchRates(port, sloId, plan, span(0)),
      ...long.map((w) => fetchRates(port, sloId, plan, span(w))),
    ]);
    const sums = new Map([...entry.sums].map(([key, s]) => [key, s.slice()]));
    // Adds the points of the grids to the sums of the long windows `ks` (indices into `long`).
    const add = (grids: InstanceGrid[], ks: readonly number[], sign: 1 | -1) => {
      for (const { labels, grid } of grids) {
        const key = labelsKey(labels);
        let s = sums.get(key);
        // Points leaving the windows of an instance without sums were never in them.
        if (!s && sign < 0) continue;
        if (!s) sums.set(key, (s = noSums(long)));
        const all = grid.window(grid.length - 1, grid.length * plan.resMs);
        for (const k of ks) addTo(s, k, all, sign);
      }
    };
    add(
      entered!,
      long.map((_, k) => k),
      1,
    );
    long.forEach((_, k) => add(left[k]!, [k], -1));
    return { signature: entry.signature, at: anchor, readAt: entry.readAt, sums };
  }

  private async load(sloId: string, signature: string, long: readonly number[]): Promise<Entry | undefined> {
    const store = this.options.store!;
    try {
      const text = await withTimeout(STORE_TIMEOUT_MS, () => store.load(sloId));
      return text === undefined ? undefined : decode(text, signature, long);
    } catch (e) {
      this.options.log?.warn(
        { event: 'long-windows-store-failed', slo: sloId, error: e instanceof Error ? e.message : String(e) },
        `could not read the long windows of ${sloId} from the store; reading Prometheus`,
      );
      return undefined;
    }
  }

  /** Keeps sums in the store for `ttlMs`; a failure is logged, the evaluation goes on. */
  private save(sloId: string, entry: Entry, long: readonly number[], ttlMs: number): void {
    const store = this.options.store;
    if (!store) return;
    const text = encode(entry, long);
    if (text.length > MAX_STORED_BYTES) return;
    store.save(sloId, text, ttlMs).catch((e: unknown) => {
      this.options.log?.warn(
        { event: 'long-windows-store-failed', slo: sloId, error: e instanceof Error ? e.message : String(e) },
        `could not keep the long windows of ${sloId} in the store`,
      );
    });
  }
}

/** The longest bucket a full read sums the base rates in: it divides every long window, and is at most 6 hours. */
const MAX_BUCKET_MS = 6 * 3600_000;

/** The longest multiple of `resMs` that divides every long window and is at most MAX_BUCKET_MS. */
export function bucketOf(resMs: number, long: readonly number[]): number {
  const g = long.reduce((a, b) => gcd(a, b));
  const n = g / resMs;
  for (let k = Math.max(1, Math.ceil(g / MAX_BUCKET_MS)); k < n; k++) if (n % k === 0) return g / k;
  return resMs;
}

/**
 * The long windows ending at grid point `anchor`, read in full. An SLO with a `bad` query has Prometheus sum its
 * base rates in buckets (`sum_over_time` and `count_over_time` of a subquery at the base resolution, 12 buckets for
 * 3d): the same points as a range query at the base resolution, a twelfth of the steps and of the answer, several
 * times cheaper for Prometheus to evaluate and send. The subquery's range is half a resolution short of the bucket,
 * so that a bucket holds the same points whether Prometheus' ranges are closed (2.x) or left-open (3.x) at the start.
 * An SLO with a `good` query (its bad rate is total − good per point, never below zero) reads its base rates.
 */
async function readLong(
  port: PrometheusPort,
  sloId: string,
  plan: RatioPlan,
  long: readonly number[],
  anchor: number,
): Promise<Map<string, LongSums>> {
  const sums = new Map<string, LongSums>();
  const longest = long[long.length - 1]!;
  if (plan.bad === undefined) {
    for (const { labels, grid } of await fetchRates(port, sloId, plan, spanAt(plan, anchor, longest))) {
      const i = grid.index(anchor);
      const s = noSums(long);
      long.forEach((w, k) => addTo(s, k, grid.window(i, w), 1));
      sums.set(labelsKey(labels), s);
    }
    return sums;
  }
  const bucket = bucketOf(plan.resMs, long);
  const span: Span = { start: anchor - longest + bucket, end: anchor, stepMs: bucket };
  const over = (fn: string, query: string) =>
    fetchRange(port, sloId, `${fn}((${query})[${bucket - plan.resMs / 2}ms:${plan.resMs}ms])`, span);
  const [bad, total, count] = await Promise.all([
    over('sum_over_time', plan.bad),
    over('sum_over_time', plan.total),
    over('count_over_time', plan.total),
  ]);
  const byKey = (series: RangeSeries[]) => new Map(series.map((s) => [labelsKey(s.labels), s]));
  const [bads, counts] = [byKey(bad), byKey(count)];
  for (const t of total) {
    const key = labelsKey(t.labels);
    const [b, c] = [bads.get(key), counts.get(key)];
    const byWindow = noSums(long);
    long.forEach((w, k) => {
      const from = anchor - w;
      const sum = (s: RangeSeries | undefined) => {
        let x = 0;
        if (s) for (let j = 0; j < s.times.length; j++) if (s.times[j]! > from) x += rateValue(s.values[j]!);
        return x;
      };
      addTo(byWindow, k, { bad: sum(b), total: sum(t), points: sum(c) }, 1);
    });
    sums.set(key, byWindow);
  }
  return sums;
}

/** Where in each period of `periodMs` an SLO reads its long windows in full: the same for every replica. */
function phaseOf(sloId: string, periodMs: number): number {
  return Math.floor((createHash('sha256').update(sloId).digest().readUInt32BE(0) / 2 ** 32) * periodMs);
}

/** Encodes an entry of a plan with these long windows for the store. */
function encode(entry: Entry, long: readonly number[]): string {
  const stored: StoredEntry = {
    format: FORMAT,
    signature: entry.signature,
    at: entry.at,
    readAt: entry.readAt,
    sums: [...entry.sums].map(([key, s]) => [key, long.map((w, k) => [w, s[3 * k]!, s[3 * k + 1]!, s[3 * k + 2]!])]),
  };
  return JSON.stringify(stored);
}

/**
 * Decodes a stored entry of a plan with these long windows; undefined when it is of another format or SLO plan, or
 * not one at all. A window the entry does not name has no points.
 */
function decode(text: string, signature: string, long: readonly number[]): Entry | undefined {
  const stored = JSON.parse(text) as Partial<StoredEntry>;
  if (
    stored.format !== FORMAT ||
    stored.signature !== signature ||
    typeof stored.at !== 'number' ||
    typeof stored.readAt !== 'number' ||
    !Array.isArray(stored.sums)
  )
    return undefined;
  const sums = new Map(
    stored.sums.map(([key, byWindow]) => {
      const s = noSums(long);
      for (const [w, bad, total, points] of byWindow) {
        const k = long.indexOf(w);
        if (k >= 0) addTo(s, k, { bad, total, points }, 1);
      }
      return [key, s];
    }),
  );
  return { signature, at: stored.at, readAt: stored.readAt, sums };
}
