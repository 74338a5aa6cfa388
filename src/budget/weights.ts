/**
 * An SLO's budget weights kept compactly: per step only where a figure needs single steps, block sums elsewhere.
 *
 * The figures of a budget (budget.ts) need the weights summed over spans: the SLO window and the burn windows, all
 * ending at the newest step, and the burn-down from the window's first step to block ends. So a window keeps
 * - per step, the newest steps from the start of the block the 6h burn window starts in (`recentSteps`): the 1h and
 *   6h burn rates and the newest part of the burn-down, to the step (with blocks of 3 steps or fewer, from the block
 *   the 3d burn window starts in: weightsShape());
 * - per step, the block the SLO window starts in and the block the 3d burn window starts in (`longSteps`), its
 *   `edges`: the first steps of those windows, to the step;
 * - one sum of `bad` and one of `total` per block elsewhere (blocks of `blockSteps` steps at absolute multiples, as
 *   long as one burn-down point is apart): the windows' sums and the burn-down's older points.
 * The sums of every window are so those of its steps. When the budget ran out is told to the step within the last 3
 * days: the blocks between the 3d window's first and the per-step part keep the peak of their running sum of `bad`
 * (`peaks`), which tells the block the budget first ran out in; that block is then kept per step as well (`ranOut`).
 * A 30d window on a 5m grid keeps 8,640 steps as 72 to 108 steps, 240 block sums and 23 peaks, and two blocks of 36
 * steps: about 5 KB instead of 69 KB (11 KB when the newest 3 days were kept per step). The edge blocks are read from
 * Prometheus when a window's start moves into a block kept as a sum (missing): two blocks every 3 hours.
 *
 * They are held in two typed arrays: the block sums (pairs of bad and all events, then the peaks) in one, the per-step
 * values (pairs, the newest steps', then each edge block's) in the other, instead of six arrays. Each typed array
 * takes about 180 bytes of heap besides its data (the view and its ArrayBuffer) and a block of memory of its own
 * outside the heap. The block sums change once a block (the newest per-step values every refresh): a refresh makes a
 * new array of values only.
 */
/** Per-step weights: NaN is no data. Float32 where many are kept (`sloe run`), Float64 for a single computation. */
export type StepValues = Float32Array | Float64Array;
type StepValuesKind = Float32ArrayConstructor | Float64ArrayConstructor;

/** The shape of an SLO's weights: its grid, blocks and burn windows. */
export interface WeightsShape {
  stepMs: number;
  /** Steps of a block; block `k` holds the steps from `k·blockSteps` to `(k + 1)·blockSteps − 1`. */
  blockSteps: number;
  /** Steps of the burn windows kept per step (6h): per step from the block the longest of them starts in. */
  recentSteps: number;
  /** Steps of the longest burn window (3d): the block it starts in is kept per step. */
  longSteps: number;
}

export interface BudgetWeights extends WeightsShape {
  /** Grid points are at `phase + i·stepMs`; `i` is a step's absolute index. */
  phase: number;
  /**
   * Sums of the blocks from `blocksFrom` on, up to the block of `stepsFrom`: `sums[2k]` the bad and `sums[2k + 1]` all
   * events of block `blocksFrom + k` (only steps with data counted); then the peaks of the newest `peaks` blocks: the
   * largest running sum of `bad` after a step of the block, from its start.
   */
  blocksFrom: number;
  sums: Float64Array;
  peaks: number;
  /** The `steps` steps from step `stepsFrom` on are kept per step (a block's first when there are block sums before). */
  stepsFrom: number;
  steps: number;
  /** The first steps of the blocks kept per step as well (each one of the block sums), in time order. */
  edges: readonly number[];
  /** The edge block the budget ran out in (between the 3d window's first block and the per-step part), or −1. */
  ranOut: number;
  /** Per step, pairs of bad and all events: the `steps` steps from `stepsFrom`, then the steps of each edge block. */
  values: StepValues;
}

/** `a` modulo `b`, never negative. */
export const mod = (a: number, b: number) => ((a % b) + b) % b;
/** Absolute index of a grid time. */
export const stepIndex = (w: Pick<BudgetWeights, 'phase' | 'stepMs'>, t: number) =>
  Math.round((t - w.phase) / w.stepMs);
/** The step after the newest kept per step. */
export const stepsEnd = (w: BudgetWeights) => w.stepsFrom + w.steps;
/** How many block sums the weights hold. */
const blockCount = (w: BudgetWeights) => (w.sums.length - w.peaks) / 2;

/** Where in `sums` the peak of block `b` is, or −1 when it is not kept. */
function peakIndex(w: BudgetWeights, b: number): number {
  const k = b - (w.blocksFrom + blockCount(w) - w.peaks);
  return k >= 0 && k < w.peaks ? w.sums.length - w.peaks + k : -1;
}

/** The peak of block `b` (the largest running sum of `bad` within it), or undefined when not kept. */
export function peakOf(w: BudgetWeights, b: number): number | undefined {
  const p = peakIndex(w, b);
  return p >= 0 ? w.sums[p] : undefined;
}

const NO_SUMS = new Float64Array(0);
const NO_EDGES: readonly number[] = [];
/**
 * `w` with `parts` changed, as an object literal of the one shape of weights (a spread makes each a larger object,
 * its fields partly in a second one), its edges in an array of their own length (a filtered array has room for more).
 */
function changed(w: BudgetWeights, parts: Partial<BudgetWeights>): BudgetWeights {
  const edges = parts.edges ?? w.edges;
  return {
    stepMs: w.stepMs,
    phase: w.phase,
    blockSteps: w.blockSteps,
    recentSteps: w.recentSteps,
    longSteps: w.longSteps,
    blocksFrom: parts.blocksFrom ?? w.blocksFrom,
    sums: parts.sums ?? w.sums,
    peaks: parts.peaks ?? w.peaks,
    stepsFrom: parts.stepsFrom ?? w.stepsFrom,
    steps: parts.steps ?? w.steps,
    edges: edges === w.edges ? edges : edges.length ? edges.slice() : NO_EDGES,
    ranOut: parts.ranOut ?? w.ranOut,
    values: parts.values ?? w.values,
  };
}

const kindOf = (values: StepValues): StepValuesKind => (values instanceof Float32Array ? Float32Array : Float64Array);

/** Weights of per-step values from `start` (a grid time), all kept per step, as `Values`. */
export function stepWeights(
  shape: WeightsShape & { start: number },
  bad: ArrayLike<number>,
  total: ArrayLike<number>,
  Values: StepValuesKind,
): BudgetWeights {
  const { start, stepMs } = shape;
  const phase = mod(start, stepMs);
  const values = new Values(2 * total.length);
  for (let i = 0; i < total.length; i++) {
    values[2 * i] = bad[i]!;
    values[2 * i + 1] = total[i]!;
  }
  return changed(
    {
      stepMs,
      phase,
      blockSteps: shape.blockSteps,
      recentSteps: shape.recentSteps,
      longSteps: shape.longSteps,
      blocksFrom: 0,
      sums: NO_SUMS,
      peaks: 0,
      stepsFrom: Math.round((start - phase) / stepMs),
      steps: total.length,
      edges: NO_EDGES,
      ranOut: -1,
      values,
    },
    {},
  );
}

/**
 * The weights with the per-step values from `fresh.from` on replaced by `fresh`'s (which reach the newest step):
 * `fresh.from` is at or after `w.stepsFrom`. A new array of values, also when the grid did not move: weights are never
 * changed once made, so that a budget draws its burn-down later from the weights of its own moment. When `fresh`
 * brings no new step and the values it reads again are the kept ones (as stored), `w` itself: a refresh between two
 * grid points mostly reads again points that have settled, and copying every SLO's values for them would make a new
 * array an SLO a refresh.
 */
export function withFresh(
  w: BudgetWeights,
  fresh: { from: number; bad: ArrayLike<number>; total: ArrayLike<number> },
): BudgetWeights {
  const keep = fresh.from - w.stepsFrom;
  const steps = keep + fresh.total.length;
  if (steps === w.steps && sameValues(w.values, 2 * keep, fresh)) return w;
  const values = new (kindOf(w.values))(2 * steps + (w.values.length - 2 * w.steps));
  values.set(w.values.subarray(0, 2 * keep));
  for (let i = 0; i < fresh.total.length; i++) {
    values[2 * (keep + i)] = fresh.bad[i]!;
    values[2 * (keep + i) + 1] = fresh.total[i]!;
  }
  values.set(w.values.subarray(2 * w.steps), 2 * steps);
  return changed(w, { steps, values });
}

/** Whether `values` from pair `at` on hold `fresh`'s pairs as `values` would store them (NaN as NaN). */
function sameValues(values: StepValues, at: number, fresh: { bad: ArrayLike<number>; total: ArrayLike<number> }) {
  const stored = values instanceof Float32Array ? Math.fround : (x: number) => x;
  const same = (kept: number, x: number) => kept === stored(x) || (Number.isNaN(kept) && Number.isNaN(x));
  for (let i = 0; i < fresh.total.length; i++)
    if (!same(values[at + 2 * i]!, fresh.bad[i]!) || !same(values[at + 2 * i + 1]!, fresh.total[i]!)) return false;
  return true;
}

/**
 * Where the weights of a window of `windowMs` ending at step `last` are kept per step: from `keepFrom` (the block the
 * 6h burn window starts in), the block the 3d burn window starts in (`longFrom`) and the one the SLO window starts in.
 */
export function layout(w: WeightsShape, windowMs: number, last: number) {
  const B = w.blockSteps;
  const blockOf = (steps: number) => Math.floor((last + 1 - steps) / B) * B;
  const longFrom = blockOf(w.longSteps);
  return { keepFrom: blockOf(w.recentSteps), longFrom, starts: [blockOf(Math.round(windowMs / w.stepMs)), longFrom] };
}

/**
 * Block `b`'s sums of `bad` and `total` of the steps kept per step (0 and 0 without any) into `sums` at `at`, and its
 * peak into `peaks` at `peakAt` (−∞ without steps).
 */
function foldBlock(w: BudgetWeights, b: number, sums: Float64Array, at: number, peaks: Float64Array, peakAt: number) {
  const B = w.blockSteps;
  const { bad, total, peak } = fold(
    w.values,
    Math.max(0, b * B - w.stepsFrom),
    Math.min(w.steps, (b + 1) * B - w.stepsFrom),
  );
  sums[2 * at] = bad;
  sums[2 * at + 1] = total;
  if (peakAt >= 0 && peakAt < peaks.length) peaks[peakAt] = peak;
}

/**
 * The sums of `bad` and `total` of the pairs `from` to `to` − 1 of `values` (steps with data only), and the peak of
 * the running sum of `bad` after each (−∞ without any).
 */
function fold(values: StepValues, from: number, to: number) {
  let bad = 0;
  let total = 0;
  let peak = -Infinity;
  for (let r = from; r < to; r++) {
    const t = values[2 * r + 1]!;
    const x = values[2 * r]!;
    if (!Number.isNaN(t)) {
      total += t;
      if (!Number.isNaN(x)) bad += x;
    }
    peak = Math.max(peak, bad);
  }
  return { bad, total, peak };
}

/**
 * The weights of the window ending at step `last`, compacted: per-step values older than the 6h burn window go into
 * block sums (the blocks the window and the 3d burn window start in are kept per step as well, and the block the
 * budget ran out in while it is after the 3d window's first), blocks before the windows are dropped. `missing` are
 * the first steps of blocks needed per step that were not kept: read them and pass them to withEdge before computing
 * the budget.
 */
export function compacted(
  w: BudgetWeights,
  windowMs: number,
  last: number,
): { weights: BudgetWeights; missing: readonly number[] } {
  const B = w.blockSteps;
  const { keepFrom, longFrom, starts } = layout(w, windowMs, last);
  // Block sums: the kept ones, then those of the per-step values before keepFrom (the first block may start before
  // the values: there is no data there). Peaks: of the blocks from the 3d window's first on.
  let pairs = w.sums.subarray(0, w.sums.length - w.peaks);
  let peaks = w.sums.subarray(w.sums.length - w.peaks);
  let sumsFrom = w.blocksFrom;
  const fold = w.stepsFrom < keepFrom;
  if (fold) {
    const firstBlock = Math.floor(w.stepsFrom / B);
    const oldEnd = w.blocksFrom + pairs.length / 2;
    if (pairs.length === 0) sumsFrom = firstBlock;
    const end = keepFrom / B;
    const peaksFrom = Math.min(end, Math.max(longFrom / B, pairs.length > 0 ? oldEnd - w.peaks : firstBlock));
    const nextPairs = new Float64Array(2 * (end - sumsFrom));
    const nextPeaks = new Float64Array(end - peaksFrom);
    nextPairs.set(pairs);
    nextPeaks.set(peaks.subarray(Math.max(0, peaks.length - (oldEnd - peaksFrom))));
    for (let b = firstBlock; b < end; b++) foldBlock(w, b, nextPairs, b - sumsFrom, nextPeaks, b - peaksFrom);
    pairs = nextPairs;
    peaks = nextPeaks;
  }
  // Blocks before the first any window starts in go; so do leading blocks with nothing counted (before an SLO's data
  // begins), which add nothing to any sum.
  let drop = Math.min(pairs.length / 2, Math.max(0, Math.min(keepFrom, ...starts) / B - sumsFrom));
  while (drop < pairs.length / 2 && pairs[2 * drop] === 0 && pairs[2 * drop + 1] === 0) drop++;
  pairs = pairs.subarray(2 * drop);
  peaks = peaks.subarray(Math.max(0, peaks.length - pairs.length / 2));
  const blocksFrom = sumsFrom + drop;
  const stepsFrom = fold ? keepFrom : w.stepsFrom;
  const steps = fold ? Math.max(0, stepsEnd(w) - keepFrom) : w.steps;
  let sums = w.sums;
  if (fold || drop > 0) {
    sums = new Float64Array(pairs.length + peaks.length);
    sums.set(pairs);
    sums.set(peaks, pairs.length);
  }

  // The blocks windows start in before the per-step part, with a block sum: from the kept edges, or from the per-step
  // values while these still hold the whole block (or all there is of it: no block sums before), else to be read.
  // Without a block sum, or with sums of 0, a block adds nothing at any step: nothing to read. The block the budget
  // ran out in stays while it is after the 3d window's first block (and before the per-step part).
  const hasSum = (e: number) => e / B >= blocksFrom && e / B < blocksFrom + pairs.length / 2;
  const needed = [...new Set(starts)].filter((e) => e < keepFrom && hasSum(e));
  const ranOut =
    w.ranOut > longFrom && w.ranOut < keepFrom && hasSum(w.ranOut) && !needed.includes(w.ranOut) ? w.ranOut : -1;
  const fromSteps = (e: number) =>
    (blockCount(w) === 0 || e >= w.stepsFrom) && e + B <= stepsEnd(w) && !w.edges.includes(e);
  const edges = [...needed.filter((e) => w.edges.includes(e) || fromSteps(e)), ...(ranOut >= 0 ? [ranOut] : [])];
  edges.sort((a, b) => a - b);
  const missing = needed.filter((e) => {
    const k = 2 * (e / B - blocksFrom);
    return !edges.includes(e) && (pairs[k] !== 0 || pairs[k + 1] !== 0);
  });
  const sameEdges = edges.length === w.edges.length && edges.every((e, j) => e === w.edges[j]);
  if (!fold && sameEdges) {
    const same = sums === w.sums && ranOut === w.ranOut;
    return { weights: same ? w : changed(w, { blocksFrom, sums, peaks: peaks.length, ranOut }), missing };
  }
  const values = new (kindOf(w.values))(2 * (steps + B * edges.length)).fill(NaN);
  values.set(w.values.subarray(2 * (stepsFrom - w.stepsFrom), 2 * (stepsFrom - w.stepsFrom + steps)));
  edges.forEach((e, j) => {
    const to = 2 * (steps + j * B);
    const kept = w.edges.indexOf(e);
    if (kept >= 0) {
      const from = 2 * (w.steps + kept * B);
      values.set(w.values.subarray(from, from + 2 * B), to);
      return;
    }
    for (let r = Math.max(0, e - w.stepsFrom); r < e + B - w.stepsFrom; r++) {
      const k = to + 2 * (r - (e - w.stepsFrom));
      values[k] = w.values[2 * r]!;
      values[k + 1] = w.values[2 * r + 1]!;
    }
  });
  return {
    weights: changed(w, { blocksFrom, sums, peaks: peaks.length, stepsFrom, steps, edges, ranOut, values }),
    missing,
  };
}

/** The weights with the per-step values of block `from` (one of `missing` of compacted(), read from its steps). */
export function withEdge(w: BudgetWeights, from: number, bad: ArrayLike<number>, total: ArrayLike<number>) {
  const B = w.blockSteps;
  const j = w.edges.filter((e) => e < from).length;
  const edges = [...w.edges.slice(0, j), from, ...w.edges.slice(j)];
  const values = new (kindOf(w.values))(w.values.length + 2 * B);
  const at = 2 * (w.steps + j * B);
  values.set(w.values.subarray(0, at));
  for (let i = 0; i < B; i++) {
    values[at + 2 * i] = bad[i]!;
    values[at + 2 * i + 1] = total[i]!;
  }
  values.set(w.values.subarray(at), at + 2 * B);
  return changed(w, { edges, values, sums: refolded(w, from, values.subarray(at, at + 2 * B)) });
}

/**
 * The block sums with block `from`'s sum (and peak, when kept) made again from its per-step values just read: data
 * Prometheus changed after the block was folded (a late correction) then counts in every window, and a block the
 * budget no longer ran out in is not read again and again for a peak of values it no longer has.
 */
function refolded(w: BudgetWeights, from: number, pairs: StepValues): Float64Array {
  const b = from / w.blockSteps;
  const k = b - w.blocksFrom;
  if (k < 0 || k >= blockCount(w)) return w.sums;
  const { bad, total, peak } = fold(pairs, 0, w.blockSteps);
  const p = peakIndex(w, b);
  if (w.sums[2 * k] === bad && w.sums[2 * k + 1] === total && (p < 0 || w.sums[p] === peak)) return w.sums;
  const sums = w.sums.slice();
  sums[2 * k] = bad;
  sums[2 * k + 1] = total;
  if (p >= 0) sums[p] = peak;
  return sums;
}

/**
 * The weights with the per-step values of block `from`, the one the budget ran out in (ranOutBlock()), instead of
 * those of the block it ran out in before.
 */
export function withRanOut(w: BudgetWeights, from: number, bad: ArrayLike<number>, total: ArrayLike<number>) {
  const before = w.edges.indexOf(w.ranOut);
  let without = w;
  if (before >= 0) {
    const at = 2 * (w.steps + before * w.blockSteps);
    const values = new (kindOf(w.values))(w.values.length - 2 * w.blockSteps);
    values.set(w.values.subarray(0, at));
    values.set(w.values.subarray(at + 2 * w.blockSteps), at);
    without = changed(w, { edges: w.edges.filter((e) => e !== w.ranOut), values });
  }
  return changed(withEdge(without, from, bad, total), { ranOut: from });
}

/** The per-step values of the `blockSteps` steps from `from` that `w` keeps per step (NaN for the others). */
export function blockValues(w: BudgetWeights, from: number) {
  const bad = new Float64Array(w.blockSteps).fill(NaN);
  const total = new Float64Array(w.blockSteps).fill(NaN);
  for (let i = 0; i < w.blockSteps; i++) {
    const r = from + i - w.stepsFrom;
    if (r < 0 || r >= w.steps) continue;
    bad[i] = w.values[2 * r]!;
    total[i] = w.values[2 * r + 1]!;
  }
  return { bad, total };
}

/** Bytes of the weights' arrays. */
export const weightBytes = (w: BudgetWeights) => w.sums.byteLength + w.values.byteLength;

/**
 * The weights as spans in time order up to step `last`: single steps where kept per step, whole blocks elsewhere.
 * `starts[u]` is the first step of span `u`, `steps[u]` its length; `bad` and `total` are running sums over the spans
 * (`bad[u]` the sum of the spans before `u`), only steps with data counted.
 */
export interface Spans {
  count: number;
  starts: Float64Array;
  steps: Float64Array;
  bad: Float64Array;
  total: Float64Array;
}

let scratch = new Float64Array(0);

/** The spans of the weights up to step `last`, valid until the next call (a shared buffer). */
export function spansOf(w: BudgetWeights, last: number): Spans {
  const B = w.blockSteps;
  const perStep = Math.max(0, Math.min(w.steps, last + 1 - w.stepsFrom));
  const blocks = blockCount(w);
  const max = blocks + B * w.edges.length + perStep;
  // One buffer for every computation (they run one at a time, without awaiting): no garbage per SLO and refresh.
  if (scratch.length < 4 * (max + 1)) scratch = new Float64Array(4 * (max + 1) * 2);
  const starts = scratch.subarray(0, max);
  const steps = scratch.subarray(max + 1, 2 * max + 1);
  const bad = scratch.subarray(2 * (max + 1), 3 * (max + 1));
  const total = scratch.subarray(3 * (max + 1), 4 * (max + 1));
  bad[0] = 0;
  total[0] = 0;
  let u = 0;
  const add = (start: number, length: number, b: number, t: number) => {
    starts[u] = start;
    steps[u] = length;
    bad[u + 1] = bad[u]! + b;
    total[u + 1] = total[u]! + t;
    u++;
  };
  // A step's values at `values[k]` and `values[k + 1]`.
  const addStep = (start: number, k: number) => {
    if (start > last) return;
    const t = w.values[k + 1]!;
    const b = w.values[k]!;
    const has = !Number.isNaN(t);
    add(start, 1, has && !Number.isNaN(b) ? b : 0, has ? t : 0);
  };
  let edge = 0;
  for (let k = 0; k < blocks; k++) {
    const start = (w.blocksFrom + k) * B;
    if (start > last) break;
    while (edge < w.edges.length && w.edges[edge]! < start) edge++;
    if (w.edges[edge] === start) {
      for (let i = 0; i < B; i++) addStep(start + i, 2 * (w.steps + edge * B + i));
    } else add(start, B, w.sums[2 * k]!, w.sums[2 * k + 1]!);
  }
  for (let i = 0; i < perStep; i++) addStep(w.stepsFrom + i, 2 * i);
  return { count: u, starts, steps, bad, total };
}

/**
 * The running sum over the spans before step `p`: exact at a span's bounds; inside a block (which compacted weights
 * never need) its share of the block's steps.
 */
export function sumBefore(s: Spans, sums: Float64Array, p: number): number {
  // The last span starting before p.
  let lo = 0;
  let hi = s.count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s.starts[mid]! < p) lo = mid + 1;
    else hi = mid;
  }
  const u = lo - 1;
  if (u < 0) return 0;
  const end = s.starts[u]! + s.steps[u]!;
  if (p >= end) return sums[u + 1]!;
  return sums[u]! + ((sums[u + 1]! - sums[u]!) * (p - s.starts[u]!)) / s.steps[u]!;
}
