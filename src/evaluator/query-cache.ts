/**
 * A PrometheusPort that asks each distinct query once: two replays of the same history (the base and the head of a
 * spec change) share its answers, concurrent asks of one query included. Answers are shared, not copied: callers
 * must not change them.
 */
import type { InstantSample, PrometheusPort, RangeSeries } from './prometheus.js';

export class QueryCache implements PrometheusPort {
  private readonly answers = new Map<string, Promise<InstantSample[] | RangeSeries[]>>();
  /** Asks answered from an earlier ask of the same query. */
  hits = 0;

  constructor(private readonly port: PrometheusPort) {}

  /** Distinct queries asked of the port behind. */
  get distinct(): number {
    return this.answers.size;
  }

  instant(query: string, at: number): Promise<InstantSample[]> {
    return this.once(`instant\0${at}\0${query}`, () => this.port.instant(query, at)) as Promise<InstantSample[]>;
  }

  range(query: string, start: number, end: number, stepMs: number): Promise<RangeSeries[]> {
    return this.once(`range\0${start}\0${end}\0${stepMs}\0${query}`, () =>
      this.port.range(query, start, end, stepMs),
    ) as Promise<RangeSeries[]>;
  }

  private once(
    key: string,
    ask: () => Promise<InstantSample[] | RangeSeries[]>,
  ): Promise<InstantSample[] | RangeSeries[]> {
    const known = this.answers.get(key);
    if (known) {
      this.hits++;
      return known;
    }
    const answer = ask();
    this.answers.set(key, answer);
    // A failed answer is not kept: the caller reports it, and a later ask tries again.
    answer.catch(() => this.answers.delete(key));
    return answer;
  }
}
