import { describe, expect, it } from 'vitest';
import { EngineMetrics } from '../../src/observability/metrics.js';
import { sleep } from '../../src/util/async.js';

/** The value of a sample line `name value` of an exposition text. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in the exposition`);
  return Number(line.slice(name.length + 1));
}

const FIGURES = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'];
const gauge = (figure: string) => `sloe_nodejs_eventloop_lag_${figure}_seconds`;

describe('event-loop lag metrics', () => {
  // The delay is sampled once a second: a block of the loop of B ≥ 1 s makes a sample between B − 1 and B s late, and
  // the gauges show how late the samples came, not the interval between them as well.
  it('shows a block of the event loop as how late the loop was, each scrape what came since the last', async () => {
    const metrics = new EngineMetrics(async () => ({}));
    await sleep(1_100);
    const blockedFor = 1_500;
    for (const until = Date.now() + blockedFor; Date.now() < until; );
    // The sample after the one the block held up comes about a second later, on time.
    await sleep(1_500);
    const text = await metrics.registry.metrics();
    expect(sample(text, gauge('max'))).toBeGreaterThanOrEqual(0.45);
    expect(sample(text, gauge('max'))).toBeLessThan(blockedFor / 1000 + 0.2);
    expect(sample(text, gauge('min'))).toBeLessThan(0.09);

    // Read again at once: no sample since, every gauge 0.
    const again = await metrics.registry.metrics();
    for (const figure of FIGURES) expect(sample(again, gauge(figure))).toBe(0);

    // Samples since then, with no block: none late. A reading loses no sample: the next one is there.
    await sleep(1_300);
    const next = await metrics.registry.metrics();
    expect(sample(next, gauge('max'))).toBeGreaterThan(0);
    expect(sample(next, gauge('max'))).toBeLessThan(0.2);
  });
});
