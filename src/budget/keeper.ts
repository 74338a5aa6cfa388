/**
 * Keeps the error budgets of every SLO for the status page and /metrics: computed against Prometheus at most once
 * per refresh period, on demand (a page load, a scrape), never twice at once. An SLO whose queries fail keeps the
 * error, shown where its budget would be: never a silent "healthy".
 *
 * A refresh reads only what it has not read yet: each SLO's weights on its budget grid (budgetGrid: points at
 * multiples of the step) are kept between refreshes, compacted (weights.ts), and a refresh asks Prometheus for the
 * points since the newest one kept, plus the newest kept points that may still change (SETTLE_MS), plus the points
 * of the block the window (or the 3d burn window) starts in once it moved into one kept only as a sum, and those of
 * the block the budget ran out in when that was within the last 3 days; points older than the windows are dropped.
 * The first refresh, and the first after an SLO's queries, step or window changed, read the whole window.
 */
import { BatchingPort } from '../evaluator/batching.js';
import type { Span } from '../evaluator/plan.js';
import type { PrometheusPort } from '../evaluator/prometheus.js';
import type { Slo } from '../rules/model.js';
import { mapLimit, sleep, withTimeout } from '../util/async.js';
import { describeError } from '../util/errors.js';
import { BoundedMap } from '../util/bounded-map.js';
import { type Budget, type BurnDown, lastStep, weightsShape } from './budget.js';
import { budgetGrid, budgetOf, budgetWindow, fetchBudgetSeries, ranOutBlockOf, sloBudget } from './load.js';
import {
  type BudgetGroup,
  type BudgetShare,
  budgetGroups,
  decodeEntries,
  definitionOf,
  encodeEntries,
} from './share.js';
import {
  type BudgetWeights,
  compacted,
  stepIndex,
  stepsEnd,
  stepWeights,
  weightBytes,
  withEdge,
  withFresh,
  withRanOut,
} from './weights.js';

/** The last budget of one SLO, or why there is none. */
export type BudgetEntry = { budget: Budget; error?: undefined } | { budget?: undefined; error: string };

export interface BudgetSnapshot {
  /** When it was computed; 0 before the first refresh finished. */
  at: number;
  bySlo: ReadonlyMap<string, BudgetEntry>;
  /** Set when budgets are not computed at all (`SLOE_BUDGET_REFRESH=off`). */
  off?: true;
}

export interface BudgetKeeperOptions {
  prometheus: PrometheusPort;
  slos: () => readonly Slo[];
  now: () => number;
  /** Budgets older than this are computed again when asked for (default 60 s); `off`: never computed. */
  refreshMs?: number | 'off';
  log?: { warn(fields: object, message: string): void };
  /**
   * Whether evaluation is under way on this process. Evaluation comes first: while it is, a refresh waits before
   * reading its next chunk, up to YIELD_MS a chunk, so that budgets still come under constant load.
   */
  busy?: () => boolean;
  /**
   * Replicas sharing the work (share.ts): each group of SLOs is computed by one of them and read by the others.
   * Without it, this process computes every budget.
   */
  share?: BudgetShare;
  /** SLOs a lease of the share covers (default GROUP_SIZE, 200). */
  groupSize?: number;
}

/** SLOs whose budgets are computed together: their two queries each fill one merged request. */
const BUDGET_CHUNK = 20;
/** Longest a chunk waits for evaluation to pause (`busy`), and how often it looks. */
const YIELD_MS = 2_000;
const YIELD_POLL_MS = 25;
/** Budgets of other replicas read at once for their burn-down lines, and how many lines are kept. */
const DRAW_LIMIT = 4;
const DRAWN_KEPT = 1_000;
/**
 * Longest a call to the share may take. The engine's Redis connection waits for Redis to come back, however long (its
 * commands are retried, never failed): a refresh must not wait with it, but compute the budgets here and say why.
 */
const SHARE_TIMEOUT_MS = 5_000;
/** The line of a budget another replica computed, before a page had it read. */
const NOT_DRAWN: BurnDown = {
  times: new Float64Array(0),
  remaining: new Float64Array(0),
  error: 'computed by another replica; its line was not read in time',
};

/**
 * How long after its time a grid point may still change: a range's newest points can gain samples that arrive late
 * (a scrape's samples are stored when the scrape ends, up to its timeout later; a recording rule's at the end of its
 * evaluation; remote writes later still). Points newer than this before the last read are read again by the next
 * refresh: with a 1m refresh, one or two points of a 1m grid, the newest one of a 5m grid until it is 2 minutes old.
 */
export const SETTLE_MS = 120_000;

/**
 * An SLO's weights kept between refreshes, compacted (weights.ts: per step the newest 6 hours and the first blocks of
 * the window and of the 3d burn window, block sums between), read for `key`; points after `readAt − SETTLE_MS` are
 * read again. Float32 halves the memory of the per-step values; the sums are made in Float64.
 */
interface Kept {
  key: string;
  readAt: number;
  weights: BudgetWeights;
  /** The budget last computed from `weights`: the next, while they stay the same, moves its times only. */
  budget?: Budget;
}

/** What an SLO's weights depend on: its queries (and for a threshold SLO, what counts as a breach) and its grid. */
function seriesKey(slo: Slo, grid: Span, windowMs: number): string {
  const source =
    slo.kind === 'ratio'
      ? { ratio: slo.ratio }
      : { query: slo.query, baseline: slo.baseline, objective: slo.objective, when: slo.when };
  return JSON.stringify({ kind: slo.kind, ...source, stepMs: grid.stepMs, windowMs });
}

/**
 * What an SLO's budget depends on, at any time: its weights, and the objective its budget is of (a ratio SLO's is not
 * in its weights). Replicas whose SLOs differ there compute their own.
 */
function definitionKey(slo: Slo): string {
  const windowMs = budgetWindow(slo);
  return JSON.stringify([seriesKey(slo, budgetGrid(windowMs, 0), windowMs), slo.objective]);
}

export class BudgetKeeper {
  private snapshot: BudgetSnapshot = { at: 0, bySlo: new Map() };
  private kept = new Map<string, Kept>();
  private running: Promise<BudgetSnapshot> | undefined;
  private readonly refreshMs: number;
  /** How long a group stays with the replica that computes it without a refresh (the share's lease). */
  private readonly leaseMs: number;
  private gaveUpWaiting = false;
  /** Burn-down lines of budgets other replicas computed, read for a page, with the time of the budget they draw. */
  private readonly drawn = new BoundedMap<string, { at: number; line: BurnDown }>(DRAWN_KEPT);
  /** The groups this replica computed at its last refresh: it holds their points. */
  private heldBefore = new Set<string>();
  /** Replicas sharing the budgets, as counted at this replica's last claim. */
  private counted = 0;
  /** Budgets another replica computed (read from the share): their lines are those `drawn`. */
  private readonly remote = new WeakSet<Budget>();

  constructor(private readonly options: BudgetKeeperOptions) {
    if (options.refreshMs === 'off') this.snapshot = { at: 0, bySlo: new Map(), off: true };
    this.refreshMs = options.refreshMs === 'off' ? Number.POSITIVE_INFINITY : (options.refreshMs ?? 60_000);
    this.leaseMs = 2 * this.refreshMs;
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
    if (this.snapshot.off) return Promise.resolve(this.snapshot);
    this.running ??= this.compute().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async compute(): Promise<BudgetSnapshot> {
    const at = this.options.now();
    const slos = this.options.slos();
    const { groups, config } = budgetGroups(slos, this.options.groupSize);
    const { mine, others: claimed, floor } = await this.split(groups, config);
    let others = claimed;
    // Every group this replica computes stays held until it is published (the groups nobody held, taken once its
    // share is done, included): a lease lapsing in between would let another replica compute that group again.
    const { shared, own } = await this.holding(
      () => mine.map((g) => g.key),
      config,
      async () => {
        const entries = await this.computeAll(
          mine.flatMap((g) => g.slos),
          at,
        );
        // Groups no replica holds once this one's share is done (their replica never refreshed, or stopped): taken too.
        const extra = await this.unheld(others, config, floor);
        if (extra.length) {
          mine.push(...extra);
          others = others.filter((g) => !extra.includes(g));
          entries.push(
            ...(await this.computeAll(
              extra.flatMap((g) => g.slos),
              at,
            )),
          );
        }
        const shared = others.length > 0 ? await this.readShared(others) : { entries: [], local: [] };
        // Budgets that could not be read, or were computed for another definition of their SLO (a reload not done on
        // that replica yet), are computed here: a budget is never left out silently, nor shown for another objective.
        const own = shared.local.length ? entries.concat(await this.computeAll(shared.local, at)) : entries;
        const failed = own.filter(([, e]) => e.error !== undefined);
        if (failed.length) {
          this.options.log?.warn(
            { event: 'budget-failed', slos: failed.length, error: failed[0]![1].error },
            `error budgets of ${failed.length} SLO(s) could not be computed: ${failed[0]![1].error}`,
          );
        }
        if (this.options.share && mine.length) await this.publish(mine, new Map(entries));
        return { shared, own };
      },
    );
    this.heldBefore = new Set(mine.map((g) => g.key));
    // SLOs a reload removed, or whose group another replica now computes, take their weights with them.
    const ids = new Set([...mine.flatMap((g) => g.slos), ...shared.local].map((s) => s.id));
    for (const id of this.kept.keys()) if (!ids.has(id)) this.kept.delete(id);
    this.snapshot = { at, bySlo: new Map([...own, ...shared.entries]) };
    return this.snapshot;
  }

  /**
   * The budgets of `slos` at `at`, computed here. SLOs with the same window ask for the same range: a chunk's queries
   * go to Prometheus merged (BatchingPort, 40 to a request), instead of two requests per SLO on every refresh. Later
   * refreshes read a few points an SLO, two chunks at a time; the first reads every window in full, one chunk at a
   * time, so that at start-up, when every shard reads its long windows too, Prometheus is not taken up by budgets.
   */
  private async computeAll(slos: readonly Slo[], at: number): Promise<[string, BudgetEntry][]> {
    const port = new BatchingPort(this.options.prometheus);
    const chunks = Array.from({ length: Math.ceil(slos.length / BUDGET_CHUNK) }, (_, i) =>
      slos.slice(i * BUDGET_CHUNK, (i + 1) * BUDGET_CHUNK),
    );
    const budgets = await mapLimit(chunks, this.snapshot.at === 0 ? 1 : 2, async (chunk) => {
      await this.evaluationPause();
      return Promise.all(
        chunk.map(async (slo): Promise<[string, BudgetEntry]> => {
          try {
            return [slo.id, { budget: await this.budget(port, slo, at) }];
          } catch (e) {
            return [slo.id, { error: describeError(e) }];
          }
        }),
      );
    });
    return budgets.flat();
  }

  /**
   * The groups this replica computes, and those it reads as another replica published them. Without a share, or
   * when the share cannot be reached (a warning), every group is computed here. The groups it computed last time come
   * first: it holds their points, and takes them again if they are free (Redis restarted empty, say). `floor` is for
   * this refresh's greedy claim: the count of replicas before, when Redis had lost it.
   */
  private async split(
    groups: BudgetGroup[],
    config: string,
  ): Promise<{ mine: BudgetGroup[]; others: BudgetGroup[]; floor: number }> {
    if (!this.options.share || groups.length === 0) return { mine: groups, others: [], floor: 0 };
    const ordered = [
      ...groups.filter((g) => this.heldBefore.has(g.key)),
      ...groups.filter((g) => !this.heldBefore.has(g.key)),
    ];
    // After Redis lost the count (this replica's own was gone), the replicas counted last time stand until they are
    // counted again: the first replica to refresh does not take every group.
    const floor = this.counted;
    const claim = await this.claim(ordered, { config, floor });
    if (!claim) return { mine: groups, others: [], floor: 0 };
    this.counted = claim.replicas;
    return {
      mine: ordered.filter((_, i) => claim.held[i]),
      others: ordered.filter((_, i) => !claim.held[i]),
      floor: claim.lost ? floor : 0,
    };
  }

  /** Of `groups`, those no replica holds and none computed, now taken by this one. */
  private async unheld(groups: BudgetGroup[], config: string, floor: number): Promise<BudgetGroup[]> {
    if (!this.options.share || groups.length === 0) return [];
    const claim = await this.claim(groups, { config, floor, greedy: true });
    return claim ? groups.filter((_, i) => claim.held[i]) : [];
  }

  /**
   * Counts this replica among those sharing the budgets before its first refresh, so that replicas started together
   * each take their share of it.
   */
  async announce(): Promise<void> {
    if (!this.options.share || this.snapshot.off) return;
    await this.claim([], { config: budgetGroups(this.options.slos(), this.options.groupSize).config });
  }

  /** A claim of `groups` (BudgetShare.claim); undefined, with a warning, when the share cannot be reached. */
  private async claim(groups: readonly BudgetGroup[], options: Parameters<BudgetShare['claim']>[2]) {
    const share = this.options.share!;
    const keys = groups.map((g) => g.key);
    return withTimeout(SHARE_TIMEOUT_MS, () => share.claim(keys, this.leaseMs, options)).catch((e: unknown) => {
      this.shareFailed('claim', e);
      return undefined;
    });
  }

  /**
   * Runs `work` while holding the leases of the groups `keys()` names (read at each renewal), renewed every third of a
   * lease.
   */
  private async holding<T>(keys: () => string[], config: string, work: () => Promise<T>): Promise<T> {
    const share = this.options.share;
    if (!share) return work();
    let warned = false;
    const timer = setInterval(() => {
      const held = keys();
      if (held.length === 0) return;
      withTimeout(SHARE_TIMEOUT_MS, () => share.renew(held, this.leaseMs, config)).catch((e: unknown) => {
        if (!warned) this.shareFailed('renew', e);
        warned = true;
      });
    }, this.leaseMs / 3);
    timer.unref();
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * Budgets other replicas published for `groups`, where they are of this replica's definition of their SLO; the SLOs
   * whose budgets could not be read, or are of another definition, are `local`: to be computed here.
   */
  private async readShared(groups: BudgetGroup[]): Promise<{ entries: [string, BudgetEntry][]; local: Slo[] }> {
    let texts: (string | undefined)[];
    try {
      texts = await withTimeout(SHARE_TIMEOUT_MS, () => this.options.share!.read(groups.map((g) => g.key)));
    } catch (e) {
      this.shareFailed('read', e);
      return { entries: [], local: groups.flatMap((g) => g.slos) };
    }
    const entries: [string, BudgetEntry][] = [];
    const local: Slo[] = [];
    texts.forEach((text, i) => {
      const group = groups[i]!;
      // Not published yet (its replica is at its first refresh): what this replica showed before stays, if anything.
      if (text === undefined) {
        for (const slo of group.slos) {
          const before = this.snapshot.bySlo.get(slo.id);
          if (before) entries.push([slo.id, before]);
        }
        return;
      }
      let decoded: ReturnType<typeof decodeEntries>;
      try {
        // The line read for this budget: one read for an older budget of that SLO is not its line.
        decoded = decodeEntries(text, (id, at) => {
          const drawn = this.drawn.get(id);
          return drawn?.at === at ? drawn.line : NOT_DRAWN;
        });
      } catch (e) {
        this.shareFailed('read', e);
        local.push(...group.slos);
        return;
      }
      const published = new Map(decoded.map(([id, entry, definition]) => [id, { entry, definition }]));
      for (const slo of group.slos) {
        const found = published.get(slo.id);
        if (found?.definition !== definitionOf(slo, definitionKey)) {
          local.push(slo);
          continue;
        }
        if (found.entry.budget) this.remote.add(found.entry.budget);
        entries.push([slo.id, found.entry]);
      }
    });
    return { entries, local };
  }

  private async publish(groups: BudgetGroup[], entries: ReadonlyMap<string, BudgetEntry>): Promise<void> {
    const keepMs = this.leaseMs * 2;
    const published = (g: BudgetGroup) =>
      encodeEntries(
        g.slos.flatMap((s) => {
          const entry = entries.get(s.id);
          return entry ? [[s.id, entry, definitionOf(s, definitionKey)] as const] : [];
        }),
      );
    try {
      await withTimeout(SHARE_TIMEOUT_MS, () =>
        Promise.all(groups.map((g) => this.options.share!.publish(g.key, published(g), keepMs))),
      );
    } catch (e) {
      this.shareFailed('publish', e);
    }
  }

  private shareFailed(what: 'claim' | 'renew' | 'read' | 'publish', e: unknown): void {
    const consequence = {
      claim: 'computing every budget on this replica',
      read: 'computing these budgets on this replica',
      renew: 'another replica may compute these budgets as well',
      publish: 'the other replicas show no budget for these SLOs until this one publishes again',
    }[what];
    this.options.log?.warn(
      { event: 'budget-share-failed', op: what, error: describeError(e) },
      `error budgets shared through Redis: ${what} failed (${describeError(e)}); ${consequence}`,
    );
  }

  /**
   * The budgets of `slos` with burn-down lines to draw: those another replica computed are read here, their whole
   * window once per refresh (a page shows a service's SLOs or one SLO), at most DRAW_LIMIT at a time.
   */
  async drawable(snapshot: BudgetSnapshot, slos: readonly Slo[], waitMs: number): Promise<void> {
    const remote = slos.filter((s) => {
      // Whether this replica computes that SLO now does not matter: the page shows the budget it was given.
      const budget = snapshot.bySlo.get(s.id)?.budget;
      return budget !== undefined && this.remote.has(budget) && this.drawn.get(s.id)?.at !== budget.at;
    });
    if (remote.length === 0) return;
    const port = new BatchingPort(this.options.prometheus);
    await withTimeout(waitMs, () =>
      mapLimit(remote, DRAW_LIMIT, async (slo) => {
        const at = snapshot.bySlo.get(slo.id)!.budget!.at;
        try {
          this.drawn.set(slo.id, { at, line: (await sloBudget(port, slo, at)).burnDown() });
        } catch (e) {
          this.drawn.set(slo.id, { at, line: { ...NOT_DRAWN, error: describeError(e) } });
        }
      }),
    ).catch(() => undefined);
  }

  /** Waits while evaluation is under way (`busy`), at most YIELD_MS. */
  private async evaluationPause(): Promise<void> {
    const busy = this.options.busy;
    if (!busy) return;
    const until = Date.now() + YIELD_MS;
    while (busy() && Date.now() < until) await sleep(YIELD_POLL_MS);
  }

  /**
   * One SLO's budget at `at`, reading only the points not kept yet (or that may still change), the steps of the
   * window's and the 3d burn window's first block once they start in a block kept only as a sum, and those of the block
   * the budget ran out in (ranOutBlockOf). A failed read keeps what was kept: the next refresh asks again from the same
   * point.
   */
  private async budget(port: PrometheusPort, slo: Slo, at: number): Promise<Budget> {
    const windowMs = budgetWindow(slo);
    const grid = budgetGrid(windowMs, at);
    const key = seriesKey(slo, grid, windowMs);
    const kept = this.kept.get(slo.id);
    const { stepMs } = grid;
    const newest = kept && (stepsEnd(kept.weights) - 1) * stepMs + kept.weights.phase;
    const usable = kept?.key === key && newest! <= grid.end;
    const from = usable ? Math.max(grid.start, firstUnsettled(kept!)) : grid.start;
    let weights: BudgetWeights;
    if (from <= grid.end) {
      const fresh = await fetchBudgetSeries(port, slo, { ...grid, start: from });
      weights = usable
        ? withFresh(kept!.weights, { from: stepIndex(kept!.weights, from), bad: fresh.bad, total: fresh.total })
        : stepWeights(weightsShape(grid.start, stepMs, windowMs), fresh.bad, fresh.total, Float32Array);
    } else weights = kept!.weights;
    const readAt = from <= grid.end ? at : kept!.readAt;
    const { weights: compact, missing } = compacted(weights, windowMs, lastStep(weights, at));
    // Kept before a block is read: a failed read keeps the fresh points, and the next refresh asks for the block.
    this.kept.set(slo.id, { key, readAt, weights: compact });
    const readBlock = (from: number) => {
      const start = compact.phase + from * stepMs;
      return fetchBudgetSeries(port, slo, { start, end: start + (compact.blockSteps - 1) * stepMs, stepMs });
    };
    let complete = compact;
    if (missing.length > 0) {
      // The window or the 3d burn window now starts inside a block kept as a sum: its steps, once (each about one
      // block a burn-down point).
      const edges = await Promise.all(missing.map(readBlock));
      complete = missing.reduce((w, from, j) => withEdge(w, from, edges[j]!.bad, edges[j]!.total), complete);
      this.kept.set(slo.id, { key, readAt, weights: complete });
    }
    // The budget ran out inside a block of the last 3 days kept as a sum: its steps, for when to the step. Read, a
    // block's sum is made again from its steps; when Prometheus's data changed since it was folded (a late
    // correction), the budget may have run out in a later block instead: that one is read next, a few at most.
    for (
      let reads = 0, ranOut = ranOutBlockOf(slo, complete, windowMs, at);
      ranOut !== undefined && reads < 3;
      reads++
    ) {
      const block = await readBlock(ranOut);
      complete = withRanOut(complete, ranOut, block.bad, block.total);
      this.kept.set(slo.id, { key, readAt, weights: complete });
      ranOut = ranOutBlockOf(slo, complete, windowMs, at);
    }
    const budget = budgetOf(slo, complete, windowMs, at, kept);
    this.kept.set(slo.id, { key, readAt, weights: complete, budget });
    return budget;
  }

  /** Bytes of the weights kept for the SLOs (their arrays). */
  keptBytes(): number {
    let bytes = 0;
    for (const { weights } of this.kept.values()) bytes += weightBytes(weights);
    return bytes;
  }
}

/**
 * The first point a refresh reads again: the first after `readAt − SETTLE_MS`, or the one after the newest kept.
 */
function firstUnsettled({ readAt, weights }: Kept): number {
  const { stepMs, phase } = weights;
  const next = phase + stepsEnd(weights) * stepMs;
  return Math.min(next, Math.floor((readAt - SETTLE_MS) / stepMs) * stepMs + stepMs);
}
