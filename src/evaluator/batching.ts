/**
 * A PrometheusPort that merges queries issued together: queries asking for the same instant, or the same range and
 * step, go out as one request, `label_replace(q0, "sloe_query", "0", "", "") or label_replace(q1, …) or …` (the
 * `or`s nested as a balanced tree, `union`), and the answer is split back by that label. The engine evaluates a shard
 * of SLOs at one instant, so their queries coincide: one request instead of dozens. When Prometheus rejects a merged query, its parts are sent one by one,
 * so that one bad query fails alone.
 */
import type { Labels } from './labels.js';
import { type InstantSample, PrometheusError, type PrometheusPort, type RangeSeries } from './prometheus.js';

const BATCH_LABEL = 'sloe_query';

interface Pending<T> {
  query: string;
  resolve(value: T[]): void;
  reject(error: unknown): void;
}

type Group =
  | { kind: 'instant'; at: number; items: Array<Pending<InstantSample>> }
  | { kind: 'range'; start: number; end: number; step: number; items: Array<Pending<RangeSeries>> };

export class BatchingPort implements PrometheusPort {
  private groups = new Map<string, Group>();
  private scheduled = false;
  /** Requests sent. */
  requests = 0;

  constructor(
    private readonly port: PrometheusPort,
    private readonly maxPerRequest = 40,
  ) {}

  instant(query: string, at: number): Promise<InstantSample[]> {
    return new Promise((resolve, reject) => {
      const key = `i|${at}`;
      let group = this.groups.get(key);
      if (!group) this.groups.set(key, (group = { kind: 'instant', at, items: [] }));
      (group.items as Array<Pending<InstantSample>>).push({ query, resolve, reject });
      this.schedule();
    });
  }

  range(query: string, start: number, end: number, step: number): Promise<RangeSeries[]> {
    return new Promise((resolve, reject) => {
      const key = `r|${start}|${end}|${step}`;
      let group = this.groups.get(key);
      if (!group) this.groups.set(key, (group = { kind: 'range', start, end, step, items: [] }));
      (group.items as Array<Pending<RangeSeries>>).push({ query, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Everything issued before the next turn of the event loop travels together.
    setImmediate(() => {
      this.scheduled = false;
      const groups = [...this.groups.values()];
      this.groups = new Map();
      for (const group of groups) {
        for (let i = 0; i < group.items.length; i += this.maxPerRequest) {
          void this.send(group, i, Math.min(group.items.length, i + this.maxPerRequest));
        }
      }
    });
  }

  private call<T>(group: Group, query: string): Promise<T[]> {
    this.requests++;
    return (
      group.kind === 'instant'
        ? this.port.instant(query, group.at)
        : this.port.range(query, group.start, group.end, group.step)
    ) as Promise<T[]>;
  }

  private async send(group: Group, from: number, to: number): Promise<void> {
    const items = group.items.slice(from, to) as Array<Pending<InstantSample | RangeSeries>>;
    if (items.length === 1) {
      const [only] = items;
      await this.call<InstantSample | RangeSeries>(group, only!.query).then(only!.resolve, only!.reject);
      return;
    }
    const merged = union(items.map((p, i) => `label_replace((${p.query}), "${BATCH_LABEL}", "${i}", "", "")`));
    let results: Array<InstantSample | RangeSeries>;
    try {
      results = await this.call(group, merged);
    } catch (e) {
      if (e instanceof PrometheusError && e.kind === 'bad_query') {
        // One of them is at fault: ask separately, so that only that one fails.
        await Promise.all(
          items.map((p) => this.call<InstantSample | RangeSeries>(group, p.query).then(p.resolve, p.reject)),
        );
      } else {
        for (const p of items) p.reject(e);
      }
      return;
    }
    const parts: Array<Array<InstantSample | RangeSeries>> = items.map(() => []);
    for (const r of results) {
      const { [BATCH_LABEL]: index, ...labels } = r.labels as Labels;
      parts[Number(index)]?.push({ ...r, labels });
    }
    items.forEach((p, i) => p.resolve(parts[i]!));
  }
}

/**
 * The union of queries with `or`, nested as a balanced tree. Prometheus evaluates `a or b or c …` from the left: each
 * `or` matches its right side against every series merged so far, at every step of a range, k²/2 label sets for k
 * parts; in a balanced tree each part is matched log₂ k times. A shard's 6-hour range reads (40 parts a request) cost
 * Prometheus half the CPU. The answer is the same set of series.
 */
function union(parts: readonly string[]): string {
  if (parts.length === 1) return parts[0]!;
  const mid = Math.ceil(parts.length / 2);
  const side = (half: readonly string[]) => (half.length === 1 ? half[0]! : `(${union(half)})`);
  return `${side(parts.slice(0, mid))} or ${side(parts.slice(mid))}`;
}
