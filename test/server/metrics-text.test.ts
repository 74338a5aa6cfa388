/**
 * The engine's registry writes each metric's text into bytes line by line (CachingRegistry, TextBytes) instead of
 * prom-client's strings: the text must be prom-client's own, byte for byte, for every kind of metric and any label
 * value (escapes, non-ASCII, numbers), and with default labels the registry renders as prom-client does.
 */
import fc from 'fast-check';
import { Counter, Gauge, Histogram, Registry, Summary, collectDefaultMetrics } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CachingRegistry } from '../../src/observability/metrics.js';

/** The same metrics, with the same values, in a CachingRegistry and a plain Registry. */
function pair(fill: (registers: Registry[]) => void): { cached: CachingRegistry; plain: Registry } {
  const cached = new CachingRegistry();
  const plain = new Registry();
  fill([cached, plain]);
  return { cached, plain };
}

const labelValue = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('a"b', 'back\\slash', 'new\nline', 'é漢字🙂', '', '\\"\n'),
);
const value = fc.oneof(
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 1e21, 5e-324),
);

describe('the registry text written line by line', () => {
  it('is prom-client text for counters, gauges, histograms and summaries with any label values', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(labelValue, labelValue, value), { minLength: 0, maxLength: 20 }),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
        async (series, help) => {
          const { cached, plain } = pair((registers) => {
            for (const registry of registers) {
              const gauge = new Gauge({ name: 'g', help, labelNames: ['a', 'b'], registers: [registry] });
              const counter = new Counter({ name: 'c_total', help: 'c', labelNames: ['a'], registers: [registry] });
              const histogram = new Histogram({
                name: 'h',
                help: 'h\\help',
                labelNames: ['a'],
                buckets: [0.1, 1],
                registers: [registry],
              });
              const summary = new Summary({ name: 's', help: 's', labelNames: ['b'], registers: [registry] });
              for (const [a, b, v] of series) {
                gauge.set({ a, b }, v);
                if (Number.isFinite(v)) {
                  counter.inc({ a }, Math.abs(v));
                  histogram.observe({ a }, v);
                  summary.observe({ b }, v);
                }
              }
            }
          });
          expect(await cached.metrics()).toBe(await plain.metrics());
        },
      ),
      { numRuns: 200 },
    );
  });

  it('is prom-client text for the default metrics, and with default labels', async () => {
    const { cached, plain } = pair((registers) => {
      for (const registry of registers) {
        collectDefaultMetrics({ register: registry, prefix: 'x_' });
        new Gauge({ name: 'y', help: 'y', labelNames: ['k'], registers: [registry] }).set({ k: 'v"1' }, 2);
      }
    });
    const text = await cached.metrics();
    // The process figures move between two renders: compare the lines that do not.
    const stable = (t: string) =>
      t
        .split('\n')
        .filter((l) => l.startsWith('#') || l.startsWith('y') || l === '')
        .join('\n');
    expect(stable(text)).toBe(stable(await plain.metrics()));
    expect(text).toContain('y{k="v\\"1"} 2');
    expect(text).toMatch(/^x_process_cpu_user_seconds_total \d/m);

    for (const registry of [cached, plain]) registry.setDefaultLabels({ replica: 'r"1' });
    const labelled = await cached.metrics();
    expect(stable(labelled)).toBe(stable(await plain.metrics()));
    expect(labelled).toContain('y{k="v\\"1",replica="r\\"1"} 2');
  });
});
