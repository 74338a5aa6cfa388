/**
 * `sloe run`'s short burn-rate windows, carried on per SLO and phase (ShortWindows), against a full read ending at the
 * same instant (readAllWindows): on data whose sums are exact (multiples of 1/8), every window of every instance is
 * the same, whatever the interval, the resolution, the query's form, gaps and instances that come and go; and on the
 * cases where a carried sum could drift from a full read — samples that arrive late, a negative bad rate, bad points
 * without total points — the states are the same minute by minute. A stand-in for Prometheus answers range queries
 * from functions of the step time (and of its own clock, for late samples).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readAllWindows } from '../../src/evaluator/fetch.js';
import { evaluateAt } from '../../src/evaluator/index.js';
import { labelsKey } from '../../src/evaluator/labels.js';
import { LongWindowCache } from '../../src/evaluator/long-windows.js';
import { ratioPlan } from '../../src/evaluator/plan.js';
import type { InstantSample, PrometheusPort, RangeSeries } from '../../src/evaluator/prometheus.js';
import { phaseOf } from '../../src/evaluator/short-windows.js';
import type { RatioSlo } from '../../src/rules/model.js';
import { loadRules } from '../../src/rules/index.js';
import { ROOT } from '../support/cli.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const B = Date.parse('2026-09-04T12:00:00Z');
const hash = (...xs: unknown[]) => createHash('sha256').update(xs.join('|')).digest().readUInt32BE(0) / 2 ** 32;

/** A part's value of instance `i` at step time t as Prometheus answers at `clock`; undefined: no point. */
type Source = (part: string, i: number, t: number, clock: number) => number | undefined;

/** Prometheus answering `PART[window]` range queries for `instances` instances labelled {i}. */
class StandIn implements PrometheusPort {
  clock = 0;
  constructor(
    private readonly source: Source,
    private readonly instances = 1,
  ) {}
  instant(): Promise<InstantSample[]> {
    return Promise.reject(new Error('no instant queries here'));
  }
  range(query: string, start: number, end: number, stepMs: number): Promise<RangeSeries[]> {
    const part = query.split('[')[0]!;
    const out: RangeSeries[] = [];
    for (let i = 0; i < this.instances; i++) {
      const times: number[] = [];
      const values: number[] = [];
      for (let t = start; t <= end; t += stepMs) {
        const v = this.source(part, i, t, this.clock);
        if (v !== undefined) {
          times.push(t);
          values.push(v);
        }
      }
      if (times.length)
        out.push({ labels: { i: String(i) }, times: Float64Array.from(times), values: Float64Array.from(values) });
    }
    return Promise.resolve(out);
  }
}

let base: RatioSlo;
beforeAll(async () => {
  const loaded = await loadRules([join(ROOT, 'test/fixtures/slos/burn-rate')]);
  base = loaded.config.slos.find((s) => s.name === 'burst-2') as RatioSlo;
});

const BAD = { bad: 'BAD[$window]', total: 'TOTAL[$window]' };
const GOOD = { good: 'GOOD[$window]', total: 'TOTAL[$window]' };

/** A 99.9% SLO with the workbook's page tiers (windows 5m, 30m, 1h, 6h) or, with `res1m`, 1m/1h and 7m/6h. */
function pageTiers(id: string, ratio: RatioSlo['ratio'], res1m = false): RatioSlo {
  const [a, b] = res1m ? [MIN, 7 * MIN] : [5 * MIN, 30 * MIN];
  return {
    ...base,
    id,
    ratio,
    tiers: [
      { severity: 'page', budget: 0.02, longMs: HOUR, shortMs: a, factor: 14.4 },
      { severity: 'page', budget: 0.05, longMs: 6 * HOUR, shortMs: b, factor: 6 },
    ],
  };
}

/** An SLO id whose hourly full read falls `from`–`to` minutes into the hour. */
const idWithHourlyReadAt = (prefix: string, from: number, to: number) =>
  Array.from({ length: 1000 }, (_, i) => `${prefix}-${i}`).find((id) => {
    const o = phaseOf(id, HOUR);
    return o > from * MIN && o < to * MIN;
  })!;

const states = (f: Awaited<ReturnType<typeof evaluateAt>>) =>
  f.status === 'data' ? f.instances.map((i) => `${i.state}/${i.severity ?? ''}`).join(',') : f.status;

/** Every minute at 17.3 s past (a shard's due time), carried and full, Prometheus' clock at the instant: differences. */
async function differences(port: StandIn, slo: RatioSlo, from: number, to: number): Promise<string[]> {
  const cache = new LongWindowCache();
  const out: string[] = [];
  for (let at = from + 17_300; at < to; at += MIN) {
    port.clock = at;
    const [carried, full] = [
      await evaluateAt(port, slo, at, 'all', cache),
      await evaluateAt(port, slo, at, 'all', readAllWindows),
    ];
    if (states(carried) !== states(full))
      out.push(`${Math.floor((at - B) / MIN)}m carried ${states(carried)} full ${states(full)}`);
  }
  expect(cache.short.carried).toBeGreaterThan(300);
  return out;
}

describe('short windows carried on per phase', () => {
  /** Instances present in 17-minute segments, points missing at random in each part, values in eighths. */
  const exact =
    (seed: string): Source =>
    (part, i, t) => {
      if (hash(seed, 'segment', i, Math.floor(t / (17 * MIN))) < 0.35) return undefined;
      if (hash(seed, part, 'gap', i, t) < 0.1) return undefined;
      const total = Math.floor(hash(seed, 'TOTAL', i, t) * 64) / 8;
      if (part === 'TOTAL') return total;
      const bad = hash(seed, 'any', i, t) < 0.5 ? 0 : Math.floor(hash(seed, 'BAD', i, t) * total * 8) / 8;
      return part === 'BAD' ? bad : total - bad;
    };

  for (const res1m of [false, true])
    for (const form of ['bad', 'good'] as const)
      for (const intervalMs of res1m ? [MIN, 90_000, 2 * MIN, 7 * MIN, 10 * MIN] : [30_000, MIN, 90_000, 2 * MIN])
        it(`equal a full read: resolution ${res1m ? '1m' : '5m'}, a ${form} query, interval ${intervalMs / 1000}s`, async () => {
          const slo = pageTiers(`short/${res1m}-${form}-${intervalMs}`, form === 'bad' ? BAD : GOOD, res1m);
          const plan = ratioPlan(slo);
          const port = new StandIn(exact(slo.id), 6);
          const cache = new LongWindowCache();
          const wrong: string[] = [];
          const offset = 1 + Math.floor(hash(slo.id) * (intervalMs - 1));
          for (let at = B + offset; at < B + 3 * HOUR; at += intervalMs) {
            // Runs of evaluations missed now and then (up to 40 minutes).
            if (hash(slo.id, 'skip', Math.floor(at / (40 * MIN))) < 0.15 && hash(slo.id, 'skip', at) < 0.9) continue;
            const [carried, full] = [
              await cache.windowsAt(port, slo.id, plan, at),
              await readAllWindows.windowsAt(port, slo.id, plan, at),
            ];
            const byKey = new Map(carried.map((c) => [labelsKey(c.labels), c.windows]));
            expect([...byKey.keys()].sort()).toEqual(full.map((f) => labelsKey(f.labels)).sort());
            for (const f of full)
              for (const w of plan.windows) {
                const [a, b] = [byKey.get(labelsKey(f.labels))!(w), f.windows(w)];
                if (a.bad !== b.bad || a.total !== b.total || a.points !== b.points)
                  wrong.push(`${(at - B) / MIN}m ${labelsKey(f.labels)} ${w / MIN}m ${JSON.stringify([a, b])}`);
              }
          }
          expect(wrong.slice(0, 5)).toEqual([]);
          if (intervalMs <= 2 * MIN) expect(cache.short.carried).toBeGreaterThan(cache.short.fullReads);
        });

  it('count samples that arrive up to 30 minutes late, as a full read does', async () => {
    // 100 requests a second, 2% errors from B to B + 60m; the error samples of [B, B + 25m) arrive only at B + 25m
    // (a remote-write backlog flushed), until then the error rate reads zero.
    const late: Source = (part, _i, t, clock) =>
      part === 'TOTAL' ? 100 : t >= B && t < B + 60 * MIN && (t >= B + 25 * MIN || clock >= B + 25 * MIN) ? 2 : 0;
    const slo = pageTiers(idWithHourlyReadAt('short/late', 1, 3), BAD);
    expect(await differences(new StandIn(late), slo, B - 7 * HOUR, B + 2 * HOUR)).toEqual([]);
  });

  it('carry a negative bad rate as it is (a bad query written as a difference of counters)', async () => {
    // 2% errors for 55 minutes, a point of −1, then 1% errors: the page ends, and must not come back.
    const negative: Source = (part, _i, t) => {
      if (part === 'TOTAL') return 100;
      const k = Math.floor((t - B) / (5 * MIN));
      return k >= 0 && k <= 10 ? 2 : k === 11 ? -1 : k >= 12 && k <= 14 ? 1 : 0;
    };
    const slo = pageTiers(idWithHourlyReadAt('short/negative', 25, 35), BAD);
    expect(await differences(new StandIn(negative), slo, B - 7 * HOUR, B + 2 * HOUR)).toEqual([]);
  });

  it('carry bad points that have no total point (a request counter not scraped for a step)', async () => {
    const orphan: Source = (part, _i, t) => {
      const k = Math.floor((t - B) / (5 * MIN));
      if (part === 'TOTAL') return k === 0 ? undefined : 100;
      return k === 0 ? 5 : k >= 1 && k <= 18 ? 3 : 0;
    };
    const slo = pageTiers(idWithHourlyReadAt('short/orphan', 9, 11), BAD);
    expect(await differences(new StandIn(orphan), slo, B - 7 * HOUR, B + 2 * HOUR)).toEqual([]);
  });

  it('keep at most 10 phases an SLO, and drop SLOs no longer evaluated', async () => {
    const port = new StandIn((part) => (part === 'TOTAL' ? 100 : 0));
    const cache = new LongWindowCache();
    const entries = () => (cache.short as unknown as { entries: Map<string, Map<number, unknown>> }).entries;
    const fast = pageTiers('short/fast', BAD);
    // A 10s interval: 30 phases of a 5m resolution.
    for (let at = B + 3_000; at < B + 10 * MIN; at += 10_000) await evaluateAt(port, fast, at, 'all', cache);
    expect(entries().get(fast.id)!.size).toBe(10);
    for (let i = 0; i < 100; i++)
      await evaluateAt(port, { ...fast, id: `short/gone-${i}` }, B + 10 * MIN, 'all', cache);
    expect(entries().size).toBe(101);
    // An hour on, only the SLO still evaluated is kept.
    for (let at = B + 10 * MIN; at < B + 75 * MIN; at += MIN) await evaluateAt(port, fast, at, 'all', cache);
    expect([...entries().keys()]).toEqual([fast.id]);
  });
});
