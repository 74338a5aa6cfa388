/**
 * An SLO's budget weights kept compactly: per step only where a figure needs single steps, block sums elsewhere.
 *
 * The figures of a budget (budget.ts) need the weights summed over spans: the SLO window and the burn windows, all
 * ending at the newest step, and the burn-down from the window's first step to block ends. So a window keeps
 * - per step, the newest steps from the start of the block the longest burn window (3d) starts in: the burn rates and
 *   the newest part of the burn-down, to the step;
 * - per step, the block the SLO window starts in (its `edge`): the window's first steps, to the step;
 * - one sum of `bad` and one of `total` per block before that (blocks of `blockSteps` steps at absolute multiples, as
 *   long as one burn-down point is apart): the window's sums and the burn-down's older points.
 * A 30d window on a 5m grid keeps 8,640 steps as 900 steps, 240 block sums and one block of 36 steps: about 11 KB
 * instead of 69 KB.
 */
/** Per-step weights: NaN is no data. Float32 where many are kept (`sloe run`), Float64 for a single computation. */
export type StepValues = Float32Array | Float64Array;

export interface BudgetWeights {
  stepMs: number;
  /** Grid points are at `phase + i·stepMs`; `i` is a step's absolute index. */
  phase: number;
  /** Steps of a block; block `k` holds the steps from `k·blockSteps` to `(k + 1)·blockSteps − 1`. */
  blockSteps: number;
  /** Steps of the longest burn window: at least those newest steps are kept per step. */
  recentSteps: number;
  /** Sums of the blocks from `blocksFrom` on, up to the block of `stepsFrom` (only steps with data counted). */
  blocksFrom: number;
  blockBad: Float64Array;
  blockTotal: Float64Array;
  /** Per-step weights from step `stepsFrom` on (a block's first step when there are block sums before). */
  stepsFrom: number;
  bad: StepValues;
  total: StepValues;
  /** The per-step weights of the block from step `edge.from` (one of the block sums), when kept. */
  edge?: { from: number; bad: StepValues; total: StepValues };
}

/** `a` modulo `b`, never negative. */
export const mod = (a: number, b: number) => ((a % b) + b) % b;
/** Absolute index of a grid time. */
export const stepIndex = (w: Pick<BudgetWeights, 'phase' | 'stepMs'>, t: number) =>
  Math.round((t - w.phase) / w.stepMs);

/** Weights of per-step values from `start` (a grid time), all kept per step. */
export function stepWeights(
  shape: { start: number; stepMs: number; blockSteps: number; recentSteps: number },
  bad: StepValues,
  total: StepValues,
): BudgetWeights {
  const { start, stepMs } = shape;
  const phase = mod(start, stepMs);
  return {
    stepMs,
    phase,
    blockSteps: shape.blockSteps,
    recentSteps: shape.recentSteps,
    blocksFrom: 0,
    blockBad: new Float64Array(0),
    blockTotal: new Float64Array(0),
    stepsFrom: Math.round((start - phase) / stepMs),
    bad,
    total,
  };
}

/**
 * The weights with the per-step values from `fresh.from` on replaced by `fresh`'s (which reach the newest step):
 * `fresh.from` is at or after `w.stepsFrom`. Keeps Float32 values. New arrays, also when the grid did not move: weights
 * are never changed once made, so that a budget draws its burn-down later from the weights of its own moment.
 */
export function withFresh(
  w: BudgetWeights,
  fresh: { from: number; bad: ArrayLike<number>; total: ArrayLike<number> },
): BudgetWeights {
  const keep = fresh.from - w.stepsFrom;
  const length = keep + fresh.total.length;
  const bad = new Float32Array(length);
  const total = new Float32Array(length);
  bad.set(w.bad.subarray(0, keep));
  total.set(w.total.subarray(0, keep));
  for (let i = 0; i < fresh.total.length; i++) {
    bad[keep + i] = fresh.bad[i]!;
    total[keep + i] = fresh.total[i]!;
  }
  return { ...w, bad, total };
}

/** Where the weights of a window ending at step `last` may be compacted to, and which block it starts in. */
function layout(w: BudgetWeights, windowMs: number, last: number) {
  const B = w.blockSteps;
  const first = last + 1 - Math.round(windowMs / w.stepMs);
  // Per step from the block the longest burn window starts in (never after the window's start).
  const keepFrom = Math.floor((last + 1 - w.recentSteps) / B) * B;
  const edgeFrom = Math.floor(first / B) * B;
  // The window's first block is needed per step (its first step is a burn-down point) when before the per-step part.
  const needsEdge = edgeFrom < keepFrom;
  return { first, keepFrom, edgeFrom, needsEdge };
}

/**
 * The weights of the window ending at step `last`, compacted: per-step values older than the longest burn window go
 * into block sums (the window's first block is kept per step as well), blocks before the window are dropped.
 * `missing` is the window's first block when it is needed per step and was not kept: read it and pass it to
 * withEdge before computing the budget.
 */
export function compacted(
  w: BudgetWeights,
  windowMs: number,
  last: number,
): { weights: BudgetWeights; missing?: { from: number; steps: number } } {
  const B = w.blockSteps;
  const { keepFrom, edgeFrom, needsEdge } = layout(w, windowMs, last);
  let { blocksFrom, blockBad, blockTotal, stepsFrom, bad, total, edge } = w;
  const value = (values: StepValues, i: number) =>
    i >= stepsFrom && i - stepsFrom < values.length ? values[i - stepsFrom]! : NaN;
  const perStep = (blockBad.length === 0 || edgeFrom >= stepsFrom) && edgeFrom + B <= stepsFrom + total.length;
  if (needsEdge && edge?.from !== edgeFrom && perStep) {
    // The block is still kept per step (or partly before the first step, where there is no data).
    const Values = bad instanceof Float32Array ? Float32Array : Float64Array;
    const edgeBad = new Values(B);
    const edgeTotal = new Values(B);
    for (let k = 0; k < B; k++) {
      edgeBad[k] = value(bad, edgeFrom + k);
      edgeTotal[k] = value(total, edgeFrom + k);
    }
    edge = { from: edgeFrom, bad: edgeBad, total: edgeTotal };
  }
  if (stepsFrom < keepFrom) {
    // The per-step values before keepFrom become block sums (the first block may start before the values).
    const firstBlock = Math.floor(stepsFrom / B);
    const newBlocks = keepFrom / B - firstBlock;
    const hadBlocks = blockBad.length > 0;
    const from = hadBlocks ? blocksFrom : firstBlock;
    const count = keepFrom / B - from;
    const nextBad = new Float64Array(count);
    const nextTotal = new Float64Array(count);
    if (hadBlocks) {
      nextBad.set(blockBad);
      nextTotal.set(blockTotal);
    }
    for (let k = 0; k < newBlocks; k++) {
      let b = 0;
      let t = 0;
      for (let i = (firstBlock + k) * B; i < (firstBlock + k + 1) * B; i++) {
        const ti = value(total, i);
        if (Number.isNaN(ti)) continue;
        const bi = value(bad, i);
        t += ti;
        if (!Number.isNaN(bi)) b += bi;
      }
      nextBad[firstBlock + k - from] = b;
      nextTotal[firstBlock + k - from] = t;
    }
    blocksFrom = from;
    blockBad = nextBad;
    blockTotal = nextTotal;
    const keep = Math.max(0, stepsFrom + total.length - keepFrom);
    bad = bad.slice(total.length - keep);
    total = total.slice(total.length - keep);
    stepsFrom = keepFrom;
  }
  // Blocks before the window's first go.
  const firstBlock = edgeFrom / B;
  if (blockBad.length > 0 && blocksFrom < firstBlock) {
    const drop = Math.min(blockBad.length, firstBlock - blocksFrom);
    blockBad = blockBad.slice(drop);
    blockTotal = blockTotal.slice(drop);
    blocksFrom += drop;
  }
  // Leading blocks with nothing counted (before an SLO's data begins) add nothing to any sum: they go as well.
  let empty = 0;
  while (empty < blockBad.length && blockBad[empty] === 0 && blockTotal[empty] === 0) empty++;
  if (empty > 0) {
    blockBad = blockBad.slice(empty);
    blockTotal = blockTotal.slice(empty);
    blocksFrom += empty;
  }
  if (!needsEdge || (edge && (edge.from !== edgeFrom || edge.from < blocksFrom * B))) edge = undefined;
  const weights: BudgetWeights = { ...w, blocksFrom, blockBad, blockTotal, stepsFrom, bad, total };
  if (edge) weights.edge = edge;
  // Without a block sum for it, or with sums of 0, the window's first block adds nothing at any step: nothing to read.
  const k = firstBlock - blocksFrom;
  const summed = k >= 0 && k < blockBad.length && (blockBad[k] !== 0 || blockTotal[k] !== 0);
  return needsEdge && !edge && summed ? { weights, missing: { from: edgeFrom, steps: B } } : { weights };
}

/** The weights with the per-step values of their window's first block (from a read of its steps). */
export function withEdge(w: BudgetWeights, from: number, bad: ArrayLike<number>, total: ArrayLike<number>) {
  const Values = w.bad instanceof Float32Array ? Float32Array : Float64Array;
  return { ...w, edge: { from, bad: Values.from(bad), total: Values.from(total) } };
}

/** Bytes of the weights' arrays. */
export const weightBytes = (w: BudgetWeights) =>
  w.blockBad.byteLength +
  w.blockTotal.byteLength +
  w.bad.byteLength +
  w.total.byteLength +
  (w.edge ? w.edge.bad.byteLength + w.edge.total.byteLength : 0);

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
  const perStep = Math.max(0, Math.min(w.total.length, last + 1 - w.stepsFrom));
  const max = w.blockBad.length + (w.edge ? B : 0) + perStep;
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
  const addStep = (start: number, b: number, t: number) => {
    if (start > last) return;
    const has = !Number.isNaN(t);
    add(start, 1, has && !Number.isNaN(b) ? b : 0, has ? t : 0);
  };
  for (let k = 0; k < w.blockBad.length; k++) {
    const start = (w.blocksFrom + k) * B;
    if (start > last) break;
    if (w.edge?.from === start) {
      for (let i = 0; i < B; i++) addStep(start + i, w.edge.bad[i]!, w.edge.total[i]!);
    } else add(start, B, w.blockBad[k]!, w.blockTotal[k]!);
  }
  for (let i = 0; i < perStep; i++) addStep(w.stepsFrom + i, w.bad[i]!, w.total[i]!);
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
