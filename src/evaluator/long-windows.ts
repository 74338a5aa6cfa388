/**
 * Long burn-rate windows for `sloe run`, part of the fetch stage: a WindowReader. A window longer than 6 hours
 * moves little from one tick to the next, so the engine reads windows up to 6h fresh on every evaluation and
 * refreshes the longer ones (the workbook's 3d ticket tier) only every long/288 (15 minutes for 3d: under 0.4% of
 * the window), from one range query. Between refreshes an evaluation reads about 6h of base rates instead of 3 days.
 * Each SLO refreshes at its own phase of that period (from a hash of its id), so that after a start, when every SLO
 * reads its long windows at once, the refreshes spread over the period instead of coming due together again.
 * `eval` and `backtest` read everything.
 *
 * With a LongWindowStore (Redis in `run`), each refresh is kept there too, for as long as it is current: a replica
 * that starts, or takes over an SLO another replica evaluated, reads the sums from the store instead of 3 days of
 * base rates. A stored entry names the format and the SLO's plan (queries and windows), so a changed SLO never
 * reuses the sums of its earlier form; a store that fails or is slow is logged and Prometheus read instead.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../incident/ports.js';
import type { Slo } from '../rules/model.js';
import { withTimeout } from '../util/async.js';
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

/** A plan's windows split at the fresh span, its signature, and how often its long windows are refreshed. */
interface PlanShape {
  long: number[];
  short: number[];
  signature: string;
  refreshMs: number;
}

const EMPTY: WindowSum = { bad: 0, total: 0, points: 0 };

/** Where refreshed long windows outlive a process, shared by replicas: one value per SLO, gone after `ttlMs`. */
export interface LongWindowStore {
  load(sloId: string): Promise<string | undefined>;
  save(sloId: string, value: string, ttlMs: number): Promise<void>;
}

/** The stored format; a stored entry of another format is read as none. */
const FORMAT = 1;
/** Entries larger than this (an SLO with very many instances) are not stored: the store stays small. */
const MAX_STORED_BYTES = 256 * 1024;
/** How long a load from the store may take before Prometheus is read instead. */
const STORE_TIMEOUT_MS = 1000;

type StoredEntry = {
  format: number;
  signature: string;
  at: number;
  sums: Array<[string, Array<[number, number, number, number]>]>;
};

export interface LongWindowCacheOptions {
  freshSpanMs?: number;
  store?: LongWindowStore;
  log?: Logger;
}

export class LongWindowCache implements WindowReader {
  private readonly entries = new Map<string, Entry>();
  private readonly shapes = new WeakMap<RatioPlan, PlanShape>();
  private readonly phases = new Map<string, { refreshMs: number; phase: number }>();
  private readonly freshSpanMs: number;
  /** Range queries that read the long windows (the evaluations in between read the short ones only). */
  refreshes = 0;
  /** Long windows taken from the store instead of Prometheus. */
  storeHits = 0;

  constructor(private readonly options: LongWindowCacheOptions = {}) {
    this.freshSpanMs = options.freshSpanMs ?? FRESH_SPAN_MS;
  }

  /** Evaluates an SLO at `at`, reading a ratio SLO's long windows from the cache. */
  evaluate(port: PrometheusPort, slo: Slo, at: number, detail: Detail): Promise<SloFrame> {
    return evaluateAt(port, slo, at, detail, this);
  }

  /** The windows of a ratio SLO ending at `at`: the short ones read now, the long ones from the last refresh. */
  windowsAt(port: PrometheusPort, sloId: string, plan: RatioPlan, at: number): Promise<InstanceWindows[]> {
    return this.read(port, sloId, plan, at, true);
  }

  private async read(
    port: PrometheusPort,
    sloId: string,
    plan: RatioPlan,
    at: number,
    useStore: boolean,
  ): Promise<InstanceWindows[]> {
    const { long, short, signature, refreshMs } = this.shape(plan);
    // Due at the SLO's next phase of the period: at most refreshMs after the sums were read.
    const phase = this.phase(sloId, refreshMs);
    const period = (t: number) => Math.floor((t + phase) / refreshMs);
    const isDue = (e: Entry | undefined) => !e || e.signature !== signature || at < e.at || period(at) > period(e.at);
    let entry = this.entries.get(sloId);
    if (long.length > 0 && short.length > 0 && isDue(entry) && useStore && this.options.store) {
      // Another replica (or this one before a restart) may have refreshed it since.
      const stored = await this.load(sloId, signature);
      if (stored && !isDue(stored)) {
        this.storeHits++;
        this.entries.set(sloId, (entry = stored));
      }
    }
    const due = isDue(entry);
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
        this.save(sloId, { signature, at, sums }, (period(at) + 1) * refreshMs - phase - at);
      }
      return windowsAt(grids, at);
    }
    const span = short[short.length - 1]!;
    const grids = await fetchRates(port, sloId, plan, spanAt(plan, at, span));
    if (grids.some(({ labels }) => !entry!.sums.has(labelsKey(labels)))) {
      // A new instance: read its long windows now (not from the store, which knows the same instances).
      this.entries.delete(sloId);
      return this.read(port, sloId, plan, at, false);
    }
    return windowsAt(grids, at).map(({ labels, windows }) => {
      const cached = entry!.sums.get(labelsKey(labels))!;
      return { labels, windows: (w: number) => (w <= span ? windows(w) : (cached.get(w) ?? EMPTY)) };
    });
  }

  /** What read() needs of a plan besides its queries; worked out once per plan object. */
  private shape(plan: RatioPlan): PlanShape {
    let shape = this.shapes.get(plan);
    if (!shape) {
      const long = plan.windows.filter((w) => w > this.freshSpanMs);
      shape = {
        long,
        short: plan.windows.filter((w) => w <= this.freshSpanMs),
        signature: JSON.stringify(plan),
        refreshMs: Math.max(plan.resMs, Math.min(...long) / 288),
      };
      this.shapes.set(plan, shape);
    }
    return shape;
  }

  /** phaseOf, kept per SLO (a hash of its id on every tick otherwise). */
  private phase(sloId: string, refreshMs: number): number {
    const known = this.phases.get(sloId);
    if (known?.refreshMs === refreshMs) return known.phase;
    const phase = phaseOf(sloId, refreshMs);
    this.phases.set(sloId, { refreshMs, phase });
    return phase;
  }

  private async load(sloId: string, signature: string): Promise<Entry | undefined> {
    const store = this.options.store!;
    try {
      const text = await withTimeout(STORE_TIMEOUT_MS, () => store.load(sloId));
      return text === undefined ? undefined : decode(text, signature);
    } catch (e) {
      this.options.log?.warn(
        { event: 'long-windows-store-failed', slo: sloId, error: e instanceof Error ? e.message : String(e) },
        `could not read the long windows of ${sloId} from the store; reading Prometheus`,
      );
      return undefined;
    }
  }

  /** Keeps a refresh in the store for as long as it is current; a failure is logged, the evaluation goes on. */
  private save(sloId: string, entry: Entry, ttlMs: number): void {
    const store = this.options.store;
    if (!store) return;
    const text = encode(entry);
    if (text.length > MAX_STORED_BYTES) return;
    store.save(sloId, text, ttlMs).catch((e: unknown) => {
      this.options.log?.warn(
        { event: 'long-windows-store-failed', slo: sloId, error: e instanceof Error ? e.message : String(e) },
        `could not keep the long windows of ${sloId} in the store`,
      );
    });
  }
}

/** Where in each period of `periodMs` an SLO refreshes its long windows: the same for every replica. */
function phaseOf(sloId: string, periodMs: number): number {
  return Math.floor((createHash('sha256').update(sloId).digest().readUInt32BE(0) / 2 ** 32) * periodMs);
}

/** Encodes an entry for the store. */
function encode(entry: Entry): string {
  const stored: StoredEntry = {
    format: FORMAT,
    signature: entry.signature,
    at: entry.at,
    sums: [...entry.sums].map(([key, byWindow]) => [key, [...byWindow].map(([w, s]) => [w, s.bad, s.total, s.points])]),
  };
  return JSON.stringify(stored);
}

/** Decodes a stored entry; undefined when it is of another format or SLO plan, or not one at all. */
function decode(text: string, signature: string): Entry | undefined {
  const stored = JSON.parse(text) as Partial<StoredEntry>;
  if (
    stored.format !== FORMAT ||
    stored.signature !== signature ||
    typeof stored.at !== 'number' ||
    !Array.isArray(stored.sums)
  )
    return undefined;
  const sums = new Map(
    stored.sums.map(([key, byWindow]) => [
      key,
      new Map(byWindow.map(([w, bad, total, points]) => [w, { bad, total, points }])),
    ]),
  );
  return { signature, at: stored.at, sums };
}
