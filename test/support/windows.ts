/** Reading `sloe run`'s long windows under test: a full read to compare with, and a port that notes what it read. */
import { type WindowReader, readAllWindows } from '../../src/evaluator/fetch.js';
import { labelsKey } from '../../src/evaluator/labels.js';
import { FRESH_SPAN_MS, anchorOf } from '../../src/evaluator/long-windows.js';
import type { InstantSample, PrometheusPort, RangeSeries } from '../../src/evaluator/prometheus.js';

/**
 * Reads 3 days of base rates twice from Prometheus: the windows up to 6h ending at the evaluation instant, the longer
 * ones ending at its anchor (the grid point `sloe run`'s long windows end at).
 */
export const fullAnchoredRead: WindowReader = {
  async windowsAt(port, sloId, plan, at) {
    const [fresh, anchored] = await Promise.all([
      readAllWindows.windowsAt(port, sloId, plan, at),
      readAllWindows.windowsAt(port, sloId, plan, anchorOf(plan, at)),
    ]);
    const long = new Map(anchored.map((i) => [labelsKey(i.labels), i.windows]));
    const none = { bad: 0, total: 0, points: 0 };
    return fresh.map(({ labels, windows }) => ({
      labels,
      windows: (w: number) => (w <= FRESH_SPAN_MS ? windows(w) : (long.get(labelsKey(labels))?.(w) ?? none)),
    }));
  },
};

/** The Prometheus client, with the span of every range query asked of it written down. */
export class Observed implements PrometheusPort {
  readonly spans: number[] = [];
  constructor(private readonly client: PrometheusPort) {}
  instant(query: string, at: number): Promise<InstantSample[]> {
    return this.client.instant(query, at);
  }
  range(query: string, start: number, end: number, stepMs: number): Promise<RangeSeries[]> {
    this.spans.push(end - start);
    return this.client.range(query, start, end, stepMs);
  }
}
